import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errors } from '../errors.js';
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
  /** The learning rate the runs it calibrates for train at (default 1e-3): the calibration trains as they do. */
  lr?: number;
  /** Steps timed after `warm` (default 20 after 40: fresh device threads run their first 30–40 steps slowly). */
  steps?: number;
  warm?: number;
}

/** What the model measured, fitted: its experts' cost per row and per buffer, and the per-layer time no placement changes. */
export interface ModelStep {
  unmodelledMs: number;
  expertTflops: number;
  expertCallMs: number;
  expertHeldMs: number;
  measuredStepMs: number;
  predictedStepMs: number;
}

/** One calibration run's medians over its timed steps, and the routing it recorded. */
export interface CalibrationRun {
  /**
   * `full`: the model at its batch. `wide`: the same batch and rows on as few experts as the devices
   * allow (one per device), so buffers several times larger. `quarter`: a quarter of the batch, for
   * a model whose experts are that few already. A full run and one of the others fit the experts' cost.
   * `replicated`: the full run with half its experts (as many as the slots take) on every device:
   * against the full run, what a replica costs in a training step (`replicatedExperts`).
   */
  size: 'full' | 'quarter' | 'wide' | 'replicated';
  source: TraceSource;
  stepMs: number;
  /** The experts' time summed over devices, their rows, and the expert buffers computed, per step. */
  expertMs: number;
  rows: number;
  buffers: number;
  /** The experts' imbalance (stats.ts `imbalanceMs`) that unskewed routing shows: noise in rows and in time, which no placement removes. */
  imbalanceMs: number;
  /** A device's step outside its experts and exchanges (mean over devices), and the experts it holds (summed over layers). */
  otherMs: number;
  held: number;
  /** Of otherMs, the experts' optimizer updates (mean over devices): what holding them costs at the least, timed as it happens. */
  updateMs: number;
}

/**
 * One calibration run: the model trained on the devices under the static placement with routing
 * that favours no expert, at its batch (`full`), with its rows on one expert per device (`wide`)
 * or at a quarter of its batch (`quarter`). A model routed by a synthetic
 * workload calibrates on uniform draws (`zipf:0`); a learned router calibrates as itself with no
 * initial skew (`routerSkew` 0): its tokens follow their content, which costs steps more than
 * hashed draws at the same rows (docs/benchmarks.md), and that cost belongs in the time no
 * placement changes. Either way the run shares no hot expert with the skewed runs it will help
 * predict, and its own routing is recorded and replayed in the fit.
 */
export async function calibrationRun(opts: ModelStepOptions, size: CalibrationRun['size']): Promise<CalibrationRun> {
  const steps = opts.steps ?? 20, warm = warmOf(opts), D = opts.devices;
  const experts = size === 'wide' ? wideExperts(opts) : opts.config.moe!.experts;
  const replicas = Array.from({ length: experts }, (_, e) => (size === 'replicated' && e < replicatedExperts(opts) ? [...Array(D).keys()] : [e % D]));
  const config = { ...opts.config, moe: { ...calibrationRouting(opts.config.moe!), experts } };
  const batch = size === 'quarter' ? Math.max(D, Math.round(opts.batch / 4 / D) * D) : opts.batch;
  const dir = mkdtempSync(join(tmpdir(), 'flexmoe-calibrate-'));
  try {
    const trace = join(dir, 'routing.jsonl');
    const history = await trainDistributed({
      task: opts.task, modules: opts.modules, devices: D, config, steps: warm + steps, batch, lr: opts.lr ?? 1e-3, slots: slotsOf(opts),
      policy: 'static-unpadded', backend: opts.backend, recordTrace: trace, replicas,
    });
    const source = TraceSource.read(trace);
    const timed = history.slice(warm);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    // A step computes one buffer per replica that got rows, per layer: an expert held once gets the
    // rows of every device, a replica on every device its own device's (a token stays home).
    const buffers = timed.map((_, i) => source.at(warm + i, D).reduce((n, layer) => {
      const totals = expertTotals(layer, experts);
      return n + replicas.reduce((k, r, e) => k + (r.length === 1 ? Number(totals[e]! > 0) : layer.filter((row) => row[e]! > 0).length), 0);
    }, 0));
    return {
      size, source,
      stepMs: median(timed.map((s) => s.stepMs)),
      expertMs: median(timed.map((s) => sum(s.deviceExpertMs))),
      rows: median(timed.map((s) => sum(s.deviceExpertRows))),
      buffers: median(buffers),
      imbalanceMs: median(timed.map((s) => s.expertImbalanceMs)),
      otherMs: median(timed.map((s) => sum(s.deviceMs.map((ms, d) => ms - s.deviceExchangeMs[d]! - s.deviceExpertMs[d]!)) / D)),
      held: (source.layers * replicas.reduce((n, r) => n + r.length, 0)) / D,
      updateMs: median(timed.map((s) => sum(s.deviceHeldMs) / D)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The second calibration run a model gets beside its full one: `wide` (its rows on one expert per
 * device) where it has more experts than that, else `quarter`. Wide buffers are the size a hot
 * expert's are; a quarter batch's are far smaller than any the model's steps compute, and there a
 * row costs more (the kernels' small-shape overheads), so a line through the full and quarter
 * runs priced the large buffers of skewed routing too low.
 */
export function calibrationSizes(opts: Pick<ModelStepOptions, 'config' | 'devices' | 'slots'>): CalibrationRun['size'][] {
  return ['full', wideExperts(opts) < opts.config.moe!.experts ? 'wide' : 'quarter', ...(replicatedExperts(opts) > 0 ? ['replicated' as const] : [])];
}

/**
 * Experts a replicated calibration run puts on every device: half of them, as many as the slots
 * hold beside the experts round-robin leaves each device. Several replicas per layer, so that what
 * they cost stands out of a step's noise.
 */
export function replicatedExperts(opts: Pick<ModelStepOptions, 'config' | 'devices' | 'slots'>): number {
  const E = opts.config.moe!.experts, D = opts.devices, slots = slotsOf(opts as ModelStepOptions);
  if (D < 2) return 0;
  for (let r = Math.ceil(E / 2); r > 0; r--) if (r + Math.ceil((E - r) / D) <= slots) return r;
  return 0;
}

/** Experts in a wide calibration run: one per device, and at least top-k. */
const wideExperts = (opts: Pick<ModelStepOptions, 'config' | 'devices'>) => Math.max(opts.devices, opts.config.moe!.topk);

/**
 * Fits the model's step from calibration runs (medians over the runs of each size, so that runs
 * spread over a process's drifting speed count alike). Expert time = buffers × callMs + rows ×
 * msPerRow: callMs from the replicated runs against the full ones where there are any, else as the
 * profile measured it in one thread (calibrate.ts), and msPerRow then from the wide runs (or both
 * sizes' where the other is a quarter batch); without either, both solved from the full runs and
 * the wide or quarter ones (a wide run has the full run's rows in fewer buffers, a quarter run fewer
 * rows). What a device's time outside its experts and exchanges gains per expert it holds more is
 * `expertHeldMs`: from the replicated runs, else the wide ones. Then the full runs' routing is
 * replayed through the cost model, and what the measured step has beyond the predicted one, per MoE
 * layer, is the time no placement changes: attention, norms, the head, the dense parts' optimizer
 * and per-op overheads. The live scheduler learns that last quantity step by step
 * (actors/scheduler.ts, learnUnmodelled).
 */
export function fitModelStep(profile: CostProfile, opts: ModelStepOptions, runs: readonly CalibrationRun[]): ModelStep {
  const fulls = runs.filter((r) => r.size === 'full');
  const wides = runs.filter((r) => r.size === 'wide'), quarters = runs.filter((r) => r.size === 'quarter'), replicated = runs.filter((r) => r.size === 'replicated');
  const others = wides.length ? wides : quarters;
  if (!fulls.length || !others.length) throw errors.badArgument('fitModelStep', `needs a full calibration run and a wide or quarter one, got ${fulls.length} full, ${wides.length} wide and ${quarters.length} quarter`);
  const of = (xs: readonly CalibrationRun[], k: 'stepMs' | 'expertMs' | 'rows' | 'buffers' | 'otherMs' | 'held') => median(xs.map((r) => r[k]));
  const full = { expertMs: of(fulls, 'expertMs'), rows: of(fulls, 'rows'), buffers: of(fulls, 'buffers') };
  const other = { expertMs: of(others, 'expertMs'), rows: of(others, 'rows'), buffers: of(others, 'buffers') };
  // expertMs = msPerRow × rows + callMs × buffers. callMs, the first of:
  //  - replicated runs against full ones: the same rows in more buffers, so what a buffer more costs
  //    live, where its weights come cold from the rest of the step (`bench/calibration.ts` found it
  //    near twice the probe's). A difference of two runs is noisy: it is kept between the probe's
  //    (weights in cache, its best case) and three times that;
  //  - the profile's, timed in one thread (calibrate.ts, expertStepCost): steadier than the full
  //    runs against the wide ones, whose difference gave 0 and 4.4 ms at the same commit.
  // The rows then take the rest: of the wide runs, whose buffers are the size a hot expert's are,
  // where a row costs more in a training step than in the probe's thread alone (the rest of the
  // step shares the caches) and the hot expert's buffers set the step; of both runs where the other
  // is a quarter batch. Without either, both solved through both points.
  const live = replicatedCosts(fulls, replicated, of);
  const probe = profile.expertCallMs;
  const liveCallMs = live.callMs === undefined ? undefined : probe === undefined ? live.callMs : Math.min(3 * probe, Math.max(probe, live.callMs));
  let msPerRow: number, expertCallMs: number;
  if (liveCallMs !== undefined || probe !== undefined) {
    expertCallMs = liveCallMs ?? probe!;
    const rowsOf = wides.length ? [other] : [full, other];
    msPerRow = rowsOf.reduce((a, r) => a + r.expertMs - expertCallMs * r.buffers, 0) / rowsOf.reduce((a, r) => a + r.rows, 0);
  } else {
    const det = full.rows * other.buffers - other.rows * full.buffers;
    msPerRow = (full.expertMs * other.buffers - other.expertMs * full.buffers) / det;
    expertCallMs = (full.rows * other.expertMs - other.rows * full.expertMs) / det;
  }
  if (!(msPerRow > 0) || !(expertCallMs >= 0)) {
    msPerRow = full.expertMs / Math.max(1, full.rows);
    expertCallMs = 0;
  }
  const expertTflops = msPerRow > 0 ? (12 * profile.dModel * profile.dFF) / (msPerRow * 1e9) : profile.expertTflops;
  // What a device's step outside its experts and exchanges gains per expert it holds more (its
  // optimizer update, its gradients into the all-reduce's bucket): from the replicated runs, else
  // from the wide runs, which hold fewer. A difference of two runs' time is noisy: it is kept
  // between the updates' own time per expert, timed in every run (its least), and three times that.
  const heldFewer = wides.length ? of(fulls, 'held') - of(wides, 'held') : 0;
  const differenced = live.heldMs ?? (heldFewer > 0 ? Math.max(0, (of(fulls, 'otherMs') - of(wides, 'otherMs')) / heldFewer) : undefined);
  const update = updatePerHeld(runs);
  const expertHeldMs = update > 0 ? Math.min(3 * update, Math.max(update, differenced ?? update)) : (differenced ?? 0);
  const measuredStepMs = of(fulls, 'stepMs');
  const fitted = { ...profile, expertTflops, expertCallMs, expertHeldMs, unmodelledMs: 0 };
  const source = fulls[0]!.source;
  const { reports } = simulate({ source, devices: opts.devices, slots: slotsOf(opts), profile: fitted, policies: ['static-unpadded'] });
  const predictedStepMs = median(reports[0]!.stepMs.slice(warmOf(opts)));
  return { unmodelledMs: Math.max(0, measuredStepMs - predictedStepMs) / source.layers, expertTflops, expertCallMs, expertHeldMs, measuredStepMs, predictedStepMs };
}

/**
 * Measures, from short runs of the model itself, what its experts cost (`expertTflops` per row,
 * `expertCallMs` per buffer, `expertHeldMs` per expert held) and the per-layer step time that no
 * placement changes (`unmodelledMs`):
 * `rounds` rounds of calibration runs (default 1), full, wide or quarter, and replicated (`calibrationSizes`),
 * fitted by `fitModelStep`. This is the offline, one-off form for the simulator; `flexmoe compare
 * --predict` spreads the same runs among the runs it predicts instead.
 */
export async function measureModelStep(profile: CostProfile, opts: ModelStepOptions & { rounds?: number }): Promise<ModelStep> {
  const runs: CalibrationRun[] = [];
  for (let r = 0; r < (opts.rounds ?? 1); r++) {
    const sizes = calibrationSizes(opts);
    for (const size of r % 2 ? [...sizes].reverse() : sizes) runs.push(await calibrationRun(opts, size));
  }
  return fitModelStep(profile, opts, runs);
}

/** The experts' optimizer updates per expert held, timed in the runs (median over them; 0 where none was timed). */
function updatePerHeld(runs: readonly CalibrationRun[]): number {
  const each = runs.filter((r) => r.held > 0 && r.updateMs > 0).map((r) => r.updateMs / r.held);
  return each.length ? median(each) : 0;
}

/** A replica's costs from replicated runs against full ones: per buffer more (expert time), per expert held more (time outside experts and exchanges). */
function replicatedCosts(fulls: readonly CalibrationRun[], replicated: readonly CalibrationRun[], of: (xs: readonly CalibrationRun[], k: 'expertMs' | 'rows' | 'buffers' | 'otherMs' | 'held') => number): { callMs?: number; heldMs?: number } {
  if (!replicated.length) return {};
  const buffers = of(replicated, 'buffers') - of(fulls, 'buffers'), held = of(replicated, 'held') - of(fulls, 'held');
  // The same batch and routing: the same rows, so the experts' time grows by the buffers alone.
  const callMs = buffers > 0 ? (of(replicated, 'expertMs') - of(fulls, 'expertMs')) / buffers : NaN;
  const heldMs = held > 0 ? (of(replicated, 'otherMs') - of(fulls, 'otherMs')) / held : NaN;
  return { ...(callMs >= 0 ? { callMs } : {}), ...(heldMs >= 0 ? { heldMs } : {}) };
}

/** The routing of calibration runs: uniform draws for a synthetic workload, the learned router unskewed otherwise. */
export function calibrationRouting<M extends { routing?: string; routerSkew?: number }>(moe: M): M {
  return moe.routing ? { ...moe, routing: 'zipf:0' } : { ...moe, routerSkew: 0 };
}

const slotsOf = (opts: ModelStepOptions) => opts.slots ?? 2 * Math.ceil(opts.config.moe!.experts / opts.devices);
const warmOf = (opts: ModelStepOptions) => opts.warm ?? 40;
