import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskName } from '../models/tasks.js';
import type { CostProfile } from '../sched/cost.js';
import { simulate } from '../sched/simulate.js';
import { TraceSource } from '../sched/trace.js';
import { median } from '../stats.js';
import { trainDistributed } from './distributed.js';
import type { DistributedOptions } from './distributed-types.js';

export interface UnmodelledOptions {
  task?: TaskName;
  modules?: (string | URL)[];
  config: DistributedOptions['config'];
  devices: number;
  batch: number;
  slots?: number;
  backend?: string;
  /** Steps timed after `warm` (default 20 and 20: a fresh process runs its first steps slowly). */
  steps?: number;
  warm?: number;
}

/**
 * Measures the model's per-layer step time that no placement changes (`CostProfile.unmodelledMs`):
 * attention, norms, the head, the optimizer and per-op overheads. It trains the model a few steps
 * on the devices under the static placement with uniform routing (`zipf:0`: no expert is hot, so
 * the measurement shares nothing with the skewed runs it will help predict), replays the routing
 * those steps recorded through the cost model, and takes what the measured median step has beyond
 * the predicted one, per MoE layer. The live scheduler learns the same quantity step by step
 * (actors/scheduler.ts, learnUnmodelled); this is the offline, one-off form for the simulator.
 */
export async function measureUnmodelled(profile: CostProfile, opts: UnmodelledOptions): Promise<{ unmodelledMs: number; measuredStepMs: number; predictedStepMs: number }> {
  const steps = opts.steps ?? 20, warm = opts.warm ?? 20;
  const dir = mkdtempSync(join(tmpdir(), 'flexmoe-calibrate-'));
  const trace = join(dir, 'routing.jsonl');
  const experts = opts.config.moe!.experts;
  const slots = opts.slots ?? 2 * Math.ceil(experts / opts.devices);
  try {
    const config = { ...opts.config, moe: { ...opts.config.moe!, routing: 'zipf:0' } };
    const history = await trainDistributed({
      task: opts.task, modules: opts.modules, devices: opts.devices, config, steps: warm + steps, batch: opts.batch, lr: 1e-3, slots,
      policy: 'static-unpadded', backend: opts.backend, recordTrace: trace,
    });
    const measuredStepMs = median(history.slice(warm).map((s) => s.stepMs));
    const source = TraceSource.read(trace);
    const { reports } = simulate({ source, devices: opts.devices, slots, profile: { ...profile, unmodelledMs: 0 }, policies: ['static-unpadded'] });
    const predictedStepMs = median(reports[0]!.stepMs.slice(warm));
    return { unmodelledMs: Math.max(0, measuredStepMs - predictedStepMs) / source.layers, measuredStepMs, predictedStepMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
