/**
 * What the scheduler actor's own work costs a step, timed by replaying routing through it in this
 * thread, message by message as in training: each gate's `gate-load` (one per MoE layer and source
 * device), then the driver's `measured`, through the same folding, pipeline, policy and learning
 * the live actor runs on its device. A message from a gate on another device arrives encoded over
 * the rings, so the replay encodes and decodes it; the actor's events are encoded as they are for
 * the main thread. The simulator charges the time to the policies the scheduler runs
 * (CostProfile.scheduleMs), so a prediction prices the work that shares a device's core with its
 * step. Not timed: the rings and the wake-ups of other threads.
 */
import type { ActorContext } from '../src/runtime/actor.js';
import { decode, encode } from '../src/runtime/codec.js';
import type { CostProfile } from '../src/sched/cost.js';
import type { RoutingSource } from '../src/sched/workload.js';
import { median } from '../src/stats.js';
import { Scheduler, type SchedulerMessage } from './scheduler.js';

type GateLoad = Extract<SchedulerMessage, { type: 'gate-load' }>;

export interface ReplayOptions {
  policy: string;
  profile: CostProfile;
  devices: number;
  slots: number;
  /** Steps replayed before timing (the actor's first steps run cold, as a device's do). */
  warm: number;
  /** The step time the replay reports to the scheduler each step (what it learns from; not timed). */
  stepMs: number;
  /** Hears the actor's events (its per-step `planned` answers among them), as the driver would. */
  onEvent?: (data: unknown) => void;
}

/** Median ms a step of the scheduler actor's work on `source`'s routing, from the round-robin placement. */
export function schedulerStepMs(source: RoutingSource, o: ReplayOptions): number {
  const E = source.experts, D = o.devices;
  const replicas = Array.from({ length: source.layers }, () => Array.from({ length: E }, (_, e) => [e % D]));
  const scheduler = new Scheduler({ policy: o.policy, profile: o.profile, devices: D, slots: o.slots, replicas, topk: source.topk });
  // Live, the actor sits on the last device: the other devices' gates reach it encoded.
  const home = D - 1;
  const ctx = {
    emit: (data: unknown) => {
      encode({ type: 'event', data });
      o.onEvent?.(data);
    },
  } as unknown as ActorContext;
  const times: number[] = [];
  for (let step = 0; step < source.steps; step++) {
    const layers = source.at(step, D);
    const reports = layers.flatMap((rows, layer) => rows.map((row, source): GateLoad => ({ type: 'gate-load', step, layer, source, counts: Array.from(row) })));
    const t0 = performance.now();
    for (const r of reports) scheduler.receive(r.source === home ? r : decode<GateLoad>(encode(r)), ctx);
    scheduler.receive({ type: 'measured', step, stepMs: o.stepMs }, ctx);
    if (step >= o.warm) times.push(performance.now() - t0);
  }
  return times.length ? median(times) : 0;
}
