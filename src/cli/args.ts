import { parseArgs as nodeParseArgs } from 'node:util';
import { errors } from '../errors.js';

export type Flags = Record<string, string | boolean>;

/** The flags a command takes: those that carry a value, and switches. */
export interface FlagSpec {
  values: readonly string[];
  switches?: readonly string[];
}

/** The model flags `train` and `compare` share (model-flags.ts). */
export const modelFlagNames = ['model', 'module', 'seed', 'batch', 'seq', 'd-model', 'layers', 'heads', 'd-ff', 'experts', 'topk', 'capacity-factor', 'router-skew', 'routing', 'lr', 'patch'] as const;

/**
 * Parses a command's arguments strictly (node:util parseArgs): `--key value`, `--key=value`,
 * switches, and positionals. An unknown flag is refused with the nearest known one; a flag that
 * needs a value and has none is named.
 */
export function parseCommand(command: string, argv: readonly string[], spec: FlagSpec): { positional: string[]; flags: Flags } {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const v of spec.values) options[v] = { type: 'string' };
  for (const b of spec.switches ?? []) options[b] = { type: 'boolean' };
  try {
    const { values, positionals } = nodeParseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
    return { positional: positionals, flags: values as Flags };
  } catch (e) {
    const err = e as Error & { code?: string };
    const flag = /'(-[^' ]+)/.exec(err.message)?.[1] ?? '';
    const known = Object.keys(options);
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const name = flag.replace(/^-+/, '').split('=')[0]!;
      const near = nearest(name, known);
      throw errors.badArgument(command, `unknown flag --${name}${near ? `; did you mean --${near}?` : ''} (flexmoe ${command} --help lists its flags)`);
    }
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const name = flag.replace(/^-+/, '');
      throw errors.badArgument(command, options[name]?.type === 'boolean' ? `--${name} takes no value` : `--${name} needs a value (--${name}=VALUE for one that starts with -)`);
    }
    throw errors.badArgument(command, err.message);
  }
}

/** The known name closest to `name` (edit distance at most a third of its length, and at least 2). */
export function nearest(name: string, known: readonly string[]): string | null {
  let best: string | null = null, bestD = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

export function intFlag(flags: Flags, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw errors.badArgument(`--${name}`, `expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

export function numberFlag(flags: Flags, name: string, fallback: number): number {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw errors.badArgument(`--${name}`, `expected a number, got ${JSON.stringify(v)}`);
  return n;
}
