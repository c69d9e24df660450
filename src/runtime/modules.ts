import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errors } from '../errors.js';

let tsxRegistered = false;

/**
 * Imports a module of the user's (a model, policy, expert or gate class), by file URL. A `.ts`
 * module loads through tsx, registered in this thread the first time one needs it, so an installed
 * (compiled) flexmoe takes TypeScript modules with no build step. A module that is missing or fails
 * to import is an error naming it and the cause.
 */
export async function importUserModule(url: string): Promise<unknown> {
  const path = url.startsWith('file:') ? fileURLToPath(url) : url;
  if (url.startsWith('file:') && !existsSync(path)) throw errors.moduleFailed(path, 'no such file');
  const ts = /\.[mc]?ts$/.test(path);
  // Once this thread registered tsx, a TypeScript module loads under a URL of its own: the plain
  // URL's failed import is cached.
  if (ts && tsxRegistered) return load(path, withTsx(url));
  try {
    return await import(url);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (!ts || err.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw errors.moduleFailed(path, err.message);
    const { register } = await import('tsx/esm/api');
    register();
    tsxRegistered = true;
    return load(path, withTsx(url));
  }
}

async function load(path: string, url: string): Promise<unknown> {
  try {
    return await import(url);
  } catch (e) {
    throw errors.moduleFailed(path, (e as Error).message);
  }
}

function withTsx(url: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}tsx`;
}
