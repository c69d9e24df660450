import { errors } from '../errors.js';

/**
 * Hardware and model constants of the cost model. Times in ms, bandwidths in GB/s per device link,
 * compute in TFLOP/s per device (already scaled by the achieved efficiency).
 */
export interface CostProfile {
  name: string;
  devicesPerNode: number;
  intraNodeGBps: number;
  interNodeGBps: number;
  expertTflops: number;
  denseTflops: number;
  dModel: number;
  dFF: number;
  bytesPerValue: number;
  /** Dense (non-expert) FLOPs per token per layer, forward + backward. */
  denseFlopsPerToken: number;
  /** Bytes moved per parameter byte when a replica is created: parameters + Adam's two moments. */
  stateBytesFactor: number;
  /** Training: backward compute, 4 all-to-all passes, replica gradient all-reduce, optimizer state moved with a replica. Inference: forward only, 2 passes, no all-reduce, weights only. */
  training: boolean;
  /**
   * Bandwidth a replica group's gradient all-reduce achieves end to end (the collective's copies and
   * sums, not just the link), GB/s of gradient; absent, the link bandwidths. `flexmoe calibrate`
   * measures it on this machine, where it is several times below the raw channel bandwidth.
   */
  allReduceGBps?: number;
  /**
   * Fixed cost of carrying out any plan, beyond moving the state: the pause at the step boundary,
   * the control round trips, caches warming for new replicas (ms). Live schedulers learn it from
   * the switches they measure; absent, 0.
   */
  planOverheadMs?: number;
  /**
   * Time a plan made after gating holds its step (ms; default 1.5 × max(1, devices ÷ 16), plan-cost.ts
   * `reactPlanMs`): such a plan (FlexMoE's `react`) runs on the critical path, between gating and
   * dispatch, not beside the previous step. The default errs against the policy that pays it:
   * about twice the median such plan bench/simulate.ts measures at each scale.
   */
  reactPlanMs?: number;
  /**
   * Per step, the live scheduler actor's own work (ms: folding the gates' reports, the scheduling
   * pipeline, the policy's decision, learning from the measured step) where it shares a device's
   * core (`schedulerHasSpareCore` false): that device does it beside its step, and the step waits
   * for it. Charged to the policies the scheduler actor runs. Absent, 0 (a scheduler on a core or
   * host of its own). `flexmoe compare --predict` times it by replaying the routing it predicts
   * through the scheduler actor in one thread (actors/scheduler-replay.ts).
   */
  scheduleMs?: number;
  /**
   * Per MoE layer, step time this model does not price (ms): what a live step measures beyond the
   * predicted one (attention, norms, head, optimizer and per-op overheads, which at small shapes
   * are most of a step and which no placement changes). Live schedulers learn it; absent, 0. The
   * planner judges a plan's gain against the whole step, so it does not move experts to shave a
   * few percent off a part that is a tenth of the step.
   */
  unmodelledMs?: number;
  /**
   * Fixed time of one expert buffer in a step (ms, forward and backward), beyond its rows: kernel
   * launches, copies, the per-op work of the expert's own pass. A device computing k experts' buffers
   * pays k of it, so small buffers cost more per row than large ones. `flexmoe calibrate` times it
   * in one thread, and with the model's flags prices it from calibration runs with replicas
   * (src/train/calibrate-step.ts); absent, 0 (time proportional to rows).
   */
  expertCallMs?: number;
  /**
   * Per step in training, what one expert held on a device costs it beyond its rows and buffers
   * (ms): the optimizer's update of its weights, its gradients' zeroing, norm and checks, its share
   * of snapshots. Every replica pays it on its own device, so a replica costs this much even on a
   * step it gets no rows; a shadow pays it on every device of its group (its weights unpacked into
   * a copy, the copy's gradients packed and summed back: about as much memory work). `flexmoe
   * calibrate` fits it from the model's runs with half its experts on every device against its
   * runs as placed (without such runs, against its runs with one expert per device); absent, 0.
   */
  expertHeldMs?: number;
  /**
   * Fixed time of one collective among devices (ms), beyond its bytes: the synchronisation of its
   * members (signals, wake-ups, the round trip). The steps of a fixed placement run the same
   * collectives whatever the routing, so their share is in `unmodelledMs`; this prices the ones a
   * policy adds: a replica gradient bucket of its own (a device set smaller than all devices) and a
   * shadow group's weights out and gradients back. `flexmoe calibrate` times a lone tiny all-reduce
   * between two devices; absent, 0.
   */
  collectiveMs?: number;
}

/** 8 A100s per node (NVLink 300 GB/s), 12.5 GB/s between nodes, experts at 50% of 312 TFLOP/s, d 1024, f 4096, fp32. */
export const clusterA100: CostProfile = {
  name: 'cluster-a100',
  devicesPerNode: 8,
  intraNodeGBps: 300,
  interNodeGBps: 12.5,
  expertTflops: 156,
  denseTflops: 156,
  dModel: 1024,
  dFF: 4096,
  bytesPerValue: 4,
  denseFlopsPerToken: 6 * 4 * 1024 * 1024, // q, k, v, o projections: 4d² parameters, 2 FLOPs each, ×3 for backward
  stateBytesFactor: 3,
  training: true,
};

export const profiles: Record<string, CostProfile> = { 'cluster-a100': clusterA100 };

export function profileByName(name: string): CostProfile {
  const p = profiles[name];
  if (!p) throw errors.badArgument('profile', `unknown profile "${name}"; known: ${Object.keys(profiles).join(', ')} (or pass a JSON file)`);
  return p;
}
