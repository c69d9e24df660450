import { errors } from '../errors.js';

export type Flags = Record<string, string | boolean>;

/** `--key value`, `--key=value` and bare `--flag` (true); everything else is positional. */
export function parseArgs(argv: readonly string[]): { positional: string[]; flags: Flags } {
  const positional: string[] = [];
  const flags: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) flags[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) flags[a.slice(2)] = argv[++i]!;
    else flags[a.slice(2)] = true;
  }
  return { positional, flags };
}

export function intFlag(flags: Flags, name: string, fallback: number, min = 0): number {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw errors.badArgument(`--${name}`, `expected an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export function numberFlag(flags: Flags, name: string, fallback: number): number {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw errors.badArgument(`--${name}`, `expected a number, got ${JSON.stringify(v)}`);
  return n;
}
