import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskName } from '../models/tasks.js';
import type { CostProfile } from '../sched/cost.js';
import { simulate } from '../sched/simulate.js';
import { TraceSource } from '../sched/trace.js';
import { median } from '../stats.js';
import { expertTotals } from '../sched/policy.js';
import { trainDistributed } from './distributed.js';
import type { DistributedOptions } from './distributed-types.js';

export interface ModelStepOptions {
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
 * Measures, from short runs of the model itself, what its experts cost (`expertTflops` per row and
 * `expertCallMs` per buffer) and the per-layer step time that no placement changes (`unmodelledMs`):
 * attention, norms, the head, the optimizer and per-op overheads. It trains the model a few steps
 * on the devices under the static placement with uniform routing (`zipf:0`: no expert is hot, so
 * the measurement shares nothing with the skewed runs it will help predict), at its batch and at a
 * quarter of it; the experts' measured times at the two sizes give the per-row and per-buffer costs.
 * Then it replays the routing the full-batch steps recorded through the cost model and takes what
 * the measured median step has beyond the predicted one, per MoE layer. The live scheduler learns
 * that last quantity step by step (actors/scheduler.ts, learnUnmodelled); this is the offline,
 * one-off form for the simulator.
 */
export async function measureModelStep(profile: CostProfile, opts: ModelStepOptions): Promise<{ unmodelledMs: number; expertTflops: number; expertCallMs: number; measuredStepMs: number; predictedStepMs: number }> {
  const steps = opts.steps ?? 20, warm = opts.warm ?? 20;
  const dir = mkdtempSync(join(tmpdir(), 'flexmoe-calibrate-'));
  const experts = opts.config.moe!.experts;
  const slots = opts.slots ?? 2 * Math.ceil(experts / opts.devices);
  const config = { ...opts.config, moe: { ...opts.config.moe!, routing: 'zipf:0' } };
  /** One run at `batch`: its timed steps, its recorded routing, and per step the experts' summed time, rows and buffers. */
  const run = async (batch: number, name: string) => {
    const trace = join(dir, name);
    const history = await trainDistributed({
      task: opts.task, modules: opts.modules, devices: opts.devices, config, steps: warm + steps, batch, lr: 1e-3, slots,
      policy: 'static-unpadded', backend: opts.backend, recordTrace: trace,
    });
    const source = TraceSource.read(trace);
    const timed = history.slice(warm);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    // Round-robin holds each expert once: a step computes one buffer per expert that got rows, per layer.
    const buffers = timed.map((_, i) => source.at(warm + i, opts.devices).reduce((n, layer) => n + expertTotals(layer, experts).filter((c) => c > 0).length, 0));
    return {
      source, timed,
      expertMs: median(timed.map((s) => sum(s.deviceExpertMs))),
      rows: median(timed.map((s) => sum(s.deviceExpertRows))),
      buffers: median(buffers),
    };
  };
  try {
    const full = await run(opts.batch, 'full.jsonl');
    const D = opts.devices;
    const small = await run(Math.max(D, Math.round(opts.batch / 4 / D) * D), 'small.jsonl');
    // Expert time = buffers × callMs + rows × msPerRow, the two runs differing in rows alone: the
    // experts' throughput and fixed cost at the model's own shapes, as its steps run them.
    let msPerRow = (full.expertMs - small.expertMs) / (full.rows - small.rows);
    let expertCallMs = (full.expertMs - msPerRow * full.rows) / Math.max(1, full.buffers);
    if (!(msPerRow > 0) || !(expertCallMs >= 0)) {
      msPerRow = full.expertMs / Math.max(1, full.rows);
      expertCallMs = 0;
    }
    const expertTflops = msPerRow > 0 ? (12 * profile.dModel * profile.dFF) / (msPerRow * 1e9) : profile.expertTflops;
    const measuredStepMs = median(full.timed.map((s) => s.stepMs));
    const fitted = { ...profile, expertTflops, expertCallMs, unmodelledMs: 0 };
    const { reports } = simulate({ source: full.source, devices: opts.devices, slots, profile: fitted, policies: ['static-unpadded'] });
    const predictedStepMs = median(reports[0]!.stepMs.slice(warm));
    return { unmodelledMs: Math.max(0, measuredStepMs - predictedStepMs) / full.source.layers, expertTflops, expertCallMs, measuredStepMs, predictedStepMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
