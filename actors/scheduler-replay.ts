/**
 * What the scheduler actor's own work costs a step, timed by replaying routing through it in this
 * thread: each step's routing summed over devices and a step measurement, as the driver's `load`
 * message brings them, through the same pipeline, policy and learning the live actor runs on its
 * device. The simulator charges it to the policies the scheduler runs (CostProfile.scheduleMs), so
 * a prediction prices the work that shares a device's core with its step. Not timed: the messages
 * and events to and from other threads.
 */
import type { ActorContext } from '../src/runtime/actor.js';
import type { CostProfile } from '../src/sched/cost.js';
import type { RoutingSource } from '../src/sched/workload.js';
import { expertTotals } from '../src/sched/policy.js';
import { median } from '../src/stats.js';
import { Scheduler } from './scheduler.js';

export interface ReplayOptions {
  policy: string;
  profile: CostProfile;
  devices: number;
  slots: number;
  /** Steps replayed before timing (the actor's first steps run cold, as a device's do). */
  warm: number;
  /** The step time the replay reports to the scheduler each step (what it learns from; not timed). */
  stepMs: number;
}

/** Median ms a step of the scheduler actor's work on `source`'s routing, from the round-robin placement. */
export function schedulerStepMs(source: RoutingSource, o: ReplayOptions): number {
  const E = source.experts, D = o.devices;
  const replicas = Array.from({ length: source.layers }, () => Array.from({ length: E }, (_, e) => [e % D]));
  const scheduler = new Scheduler({ policy: o.policy, profile: o.profile, devices: D, slots: o.slots, replicas, topk: source.topk });
  // The actor emits its events through its context; here there is no one to hear them.
  const ctx = { emit: () => undefined } as unknown as ActorContext;
  const times: number[] = [];
  for (let step = 0; step < source.steps; step++) {
    const counts = source.at(step, D).map((layer) => Array.from(expertTotals(layer, E)));
    const t0 = performance.now();
    scheduler.receive({ type: 'load', step, counts, stepMs: o.stepMs }, ctx);
    if (step >= o.warm) times.push(performance.now() - t0);
  }
  return times.length ? median(times) : 0;
}
