import { importUserModule } from '../runtime/modules.js';
import type { CostProfile } from './cost.js';
import { simulate, type PolicyReport } from './simulate.js';
import { TraceSource } from './trace.js';
import { parseWorkload, SyntheticWorkload, type RoutingSource } from './workload.js';

/**
 * One simulation as plain data, so it can run on another thread: the routing (a synthetic
 * workload's parameters, or a trace file), the cluster, and the policies by name (with the modules
 * that register policies of your own).
 */
export interface SimJob {
  routing: { workload: string; experts: number; topk: number; steps: number; tokens: number; seed: number } | { trace: string };
  devices: number;
  slots: number;
  profile: CostProfile;
  policies: string[];
  steps?: number;
  /** Module URLs that register policies (`registerPolicy`), imported before the run. */
  modules?: string[];
}

export function sourceOf(r: SimJob['routing']): RoutingSource {
  return 'trace' in r ? TraceSource.read(r.trace) : new SyntheticWorkload(parseWorkload(r.workload), r.experts, r.topk, r.steps, r.tokens, r.seed);
}

/** Runs one job (here, or as a piscina task: this is the pool's worker module). */
export async function runSimJob(job: SimJob): Promise<PolicyReport[]> {
  for (const m of job.modules ?? []) await importUserModule(m);
  return simulate({ source: sourceOf(job.routing), devices: job.devices, slots: job.slots, profile: job.profile, policies: job.policies, steps: job.steps }).reports;
}

export default runSimJob;
