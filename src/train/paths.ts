import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { errors } from '../errors.js';

// Paths a run reads and writes, checked before any device starts or any step runs.

/** `path` can be written: its folder exists and is writable, and the file, if there, is writable. */
export function checkWritable(path: string, what: string): void {
  const dir = dirname(resolve(path));
  try {
    accessSync(dir, fsConstants.W_OK);
    if (existsSync(path)) accessSync(path, fsConstants.W_OK);
  } catch (e) {
    throw errors.badArgument(what, `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (checked before training starts)`);
  }
}

/** `path` can be read. */
export function checkReadable(path: string, what: string): void {
  try {
    accessSync(path, fsConstants.R_OK);
  } catch (e) {
    throw errors.badArgument(what, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (checked before training starts)`);
  }
}
