import { readFileSync } from 'node:fs';
import { errors } from '../errors.js';
import { clusterA100, type CostProfile } from './cost.js';

type Rule = (v: unknown) => boolean;
const positive: Rule = (v) => typeof v === 'number' && Number.isFinite(v) && v > 0;
const nonNegative: Rule = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const count: Rule = (v) => Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 1 << 20;

/** Every field a profile file may set, with what it must hold. */
const fields: Record<keyof CostProfile, [Rule, string]> = {
  name: [(v) => typeof v === 'string' && v.length > 0 && v.length <= 200, 'a name'],
  devicesPerNode: [count, 'a whole number of devices, 1 to 2^20'],
  intraNodeGBps: [positive, 'a positive, finite bandwidth'],
  interNodeGBps: [positive, 'a positive, finite bandwidth'],
  expertTflops: [positive, 'a positive, finite throughput'],
  denseTflops: [positive, 'a positive, finite throughput'],
  dModel: [count, 'a whole width, 1 to 2^20'],
  dFF: [count, 'a whole width, 1 to 2^20'],
  bytesPerValue: [(v) => v === 2 || v === 4 || v === 8, '2, 4 or 8'],
  denseFlopsPerToken: [nonNegative, 'a finite count of FLOPs, 0 or more'],
  stateBytesFactor: [(v) => positive(v) && (v as number) <= 100, 'a positive factor up to 100'],
  training: [(v) => typeof v === 'boolean', 'true or false'],
  allReduceGBps: [positive, 'a positive, finite bandwidth'],
  planOverheadMs: [nonNegative, 'a finite time in ms, 0 or more'],
  reactPlanMs: [nonNegative, 'a finite time in ms, 0 or more'],
  scheduleMs: [nonNegative, 'a finite time in ms, 0 or more'],
  unmodelledMs: [nonNegative, 'a finite time in ms, 0 or more'],
  expertCallMs: [nonNegative, 'a finite time in ms, 0 or more'],
  expertHeldMs: [nonNegative, 'a finite time in ms, 0 or more'],
  collectiveMs: [nonNegative, 'a finite time in ms, 0 or more'],
};

/**
 * A cost profile from a JSON file (what `flexmoe calibrate` prints), over cluster-a100's fields:
 * every field checked (finite, in range, of the right type), unknown fields refused by name, so a
 * typo cannot silently fall back to a default and no ratio computed from it can come out Infinity or NaN.
 */
export function readProfileFile(path: string): CostProfile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw errors.badArgument('--profile', code ? `cannot read ${path}: ${code}` : `${path} is not JSON: ${(e as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw errors.badArgument('--profile', `${path} must hold a JSON object of profile fields`);
  for (const [k, v] of Object.entries(parsed)) {
    const rule = fields[k as keyof CostProfile];
    if (!rule) throw errors.badArgument('--profile', `${path}: unknown field "${k}"; known: ${Object.keys(fields).join(', ')}`);
    if (!rule[0](v)) throw errors.badArgument('--profile', `${path}: "${k}" is ${typeof v === 'number' ? String(v) : JSON.stringify(v)}; expected ${rule[1]}`);
  }
  return { ...clusterA100, ...(parsed as Partial<CostProfile>) };
}
