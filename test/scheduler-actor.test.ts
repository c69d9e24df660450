import assert from 'node:assert/strict';
import { Scheduler } from '../actors/scheduler.js';
import type { ActorContext } from '../src/runtime/actor.js';
import { clusterA100 } from '../src/sched/cost.js';

describe('scheduler actor', () => {
  const ctx = { emit: () => {} } as unknown as ActorContext;
  const profile = { ...clusterA100, devicesPerNode: 4 };
  const start = () => new Scheduler({ policy: 'flexmoe', profile, devices: 4, slots: 3, replicas: [[[0], [1], [2], [3]]], topk: 1 });
  const hot = (e: number) => [[0, 1, 2, 3].map((x) => (x === e ? 400_000 : 1000))];

  it('answers a plan for skewed routing, priced before and after', () => {
    const s = start();
    const [plan] = s.receive({ type: 'load', step: 0, counts: hot(0) }, ctx);
    assert.ok(plan && plan.ops.length > 0);
    assert.ok(plan.predictedMsAfter < plan.predictedMsBefore, `${plan.predictedMsBefore} → ${plan.predictedMsAfter}`);
  });

  it('carries out the plans answered so far on the expert actors, through its context, and no later ones', async () => {
    const calls: string[] = [];
    let next = 100;
    const ref = (device: number) => ({ id: `a${next++}`, device, incarnation: 1 });
    const placer = {
      ...ctx,
      clone: async (t: { id: string }, d: number) => (calls.push(`clone ${t.id}→${d}`), ref(d)),
      migrate: async (t: { id: string; device: number }, d: number) => (calls.push(`migrate ${t.id}→${d}`), { ...t, device: d, incarnation: 2 }),
      stop: async (t: { id: string }) => void calls.push(`stop ${t.id}`),
    } as unknown as ActorContext;
    const experts = [[0, 1, 2, 3].map((d) => [{ id: `e${d}`, device: d, incarnation: 1 }])];
    const s = new Scheduler({ policy: 'flexmoe', profile, devices: 4, slots: 3, replicas: [[[0], [1], [2], [3]]], topk: 1, actors: { gates: [[]], experts } });
    const [plan] = s.receive({ type: 'load', step: 0, counts: hot(0) }, ctx);
    assert.ok(plan);
    const none = await s.receive({ type: 'carry-out', count: 0 }, placer);
    assert.deepEqual([none.plans, calls], [[], []], 'a plan not yet counted as arrived is not carried out');
    const done = await s.receive({ type: 'carry-out', count: 1 }, placer);
    assert.deepEqual(done.plans, [plan]);
    assert.deepEqual(done.replicas, [plan.replicas]);
    const gained = plan.replicas[0]!.filter((d) => d !== 0).length;
    assert.equal(done.moves[0]!.cloned + done.moves[0]!.migrated, gained, `${calls.join(', ')}`);
    assert.deepEqual(done.actors.experts[0]![0]!.map((r) => r.device).sort(), [...plan.replicas[0]!].sort(), 'expert 0 has an actor on every device of its replicas');
    await assert.rejects(start().receive({ type: 'carry-out', count: 1 }, placer), /started without the expert actors/);
  });

  it('learns what carrying out a plan costs and stops planning when that no longer pays', () => {
    const s = start();
    assert.equal(s.receive({ type: 'load', step: 0, counts: hot(0) }, ctx).length, 1);
    // The executor reports that the switch took a minute: every later plan must pay for that.
    for (let step = 1; step < 8; step++) assert.deepEqual(s.receive({ type: 'load', step, counts: hot(step % 2 ? 3 : 0), switchMs: step === 1 ? 60_000 : undefined }, ctx), [], `step ${step}`);
    const fresh = start();
    fresh.receive({ type: 'load', step: 0, counts: hot(0) }, ctx);
    const later = [1, 2, 3, 4, 5].flatMap((step) => fresh.receive({ type: 'load', step, counts: hot(3) }, ctx));
    assert.ok(later.length > 0, 'without the measured cost the same shift is planned');
  });

  it('judges plans against the measured step, unless told to plan on the profile alone (learn: false)', () => {
    // A measured step of a minute: no placement gain is worth a switch against it.
    const learner = start();
    learner.receive({ type: 'load', step: 0, counts: hot(1), stepMs: 60_000 }, ctx);
    assert.deepEqual(learner.receive({ type: 'load', step: 1, counts: hot(0), stepMs: 60_000 }, ctx), []);
    const fixed = new Scheduler({ policy: 'flexmoe', profile, devices: 4, slots: 3, replicas: [[[0], [1], [2], [3]]], topk: 1, learn: false });
    fixed.receive({ type: 'load', step: 0, counts: hot(1), stepMs: 60_000 }, ctx);
    const plans = [fixed.receive({ type: 'load', step: 0, counts: hot(0), stepMs: 60_000 }, ctx)].flat();
    assert.ok(plans.length > 0, 'routing alone decides');
  });

  it('after carrying out plans, plans again only once their measured cost has arrived (or two loads later)', async () => {
    let next = 100;
    const placer = {
      ...ctx,
      clone: async (_t: unknown, d: number) => ({ id: `a${next++}`, device: d, incarnation: 1 }),
      migrate: async (t: { id: string }, d: number) => ({ ...t, device: d, incarnation: 2 }),
      stop: async () => undefined,
    } as unknown as ActorContext;
    const experts = [[0, 1, 2, 3].map((d) => [{ id: `e${d}`, device: d, incarnation: 1 }])];
    const make = () => new Scheduler({ policy: 'flexmoe', profile, devices: 4, slots: 3, replicas: [[[0], [1], [2], [3]]], topk: 1, actors: { gates: [[]], experts } });
    // Expert 0 hot, then expert 3: a second plan is due as soon as the scheduler may make one.
    const s = make();
    assert.equal(s.receive({ type: 'load', step: 0, counts: hot(0) }, ctx).length, 1);
    await s.receive({ type: 'carry-out', count: 1 }, placer);
    assert.deepEqual(s.receive({ type: 'load', step: 1, counts: hot(3) }, ctx), [], 'the step after a switch: its cost is not known yet');
    assert.equal(s.receive({ type: 'load', step: 2, counts: hot(3), switchMs: 1 }, ctx).length, 1, 'cost known (and small): plans again');
    // A driver that never reports the cost: planning resumes after two loads.
    const t = make();
    t.receive({ type: 'load', step: 0, counts: hot(0) }, ctx);
    await t.receive({ type: 'carry-out', count: 1 }, placer);
    assert.deepEqual([1, 2].flatMap((step) => t.receive({ type: 'load', step, counts: hot(3) }, ctx)), []);
    assert.equal(t.receive({ type: 'load', step: 3, counts: hot(3) }, ctx).length, 1);
  });

  it('judges a plan against the whole measured step: a gain that is small beside what the model leaves out is not chased', () => {
    const gain = start().receive({ type: 'load', step: 0, counts: hot(0) }, ctx)[0]!;
    const saved = gain.predictedMsBefore - gain.predictedMsAfter;
    // Measured steps 30× the modelled one: the plan's gain is a few percent of the real step.
    const s = start();
    const stepMs = 30 * 2 * gain.predictedMsBefore;
    assert.deepEqual(s.receive({ type: 'load', step: 0, counts: hot(0), stepMs }, ctx), [], `saves ${saved.toFixed(1)} of ${stepMs.toFixed(0)} ms`);
    // Measured close to the model: the same plan.
    assert.equal(start().receive({ type: 'load', step: 0, counts: hot(0), stepMs: gain.predictedMsBefore }, ctx).length, 1);
  });

  it('plans from the gates\' own load messages once every source and the measurement are in, in any order, as from the summed load', () => {
    const summed = start().receive({ type: 'load', step: 0, counts: hot(0) }, ctx);
    const s = start();
    const emitted: { type: string; step?: number; plans?: typeof summed }[] = [];
    const heard = { emit: (e: (typeof emitted)[number]) => emitted.push(e) } as unknown as ActorContext;
    const rows = [[100_000, 250, 250, 250], [100_000, 250, 250, 250], [100_000, 250, 250, 250], [100_000, 250, 250, 250]];
    s.receive({ type: 'gate-load', step: 0, layer: 0, source: 2, counts: rows[2]! }, heard);
    // The measurement is a tell that returns at once: the gates' reports queued behind it are not blocked.
    assert.equal(s.receive({ type: 'measured', step: 0 }, heard), undefined);
    assert.ok(!emitted.some((e) => e.type === 'planned'), 'not planned before every gate has reported');
    for (const source of [0, 3, 1]) s.receive({ type: 'gate-load', step: 0, layer: 0, source, counts: rows[source]! }, heard);
    const plans = emitted.find((e) => e.type === 'planned')!.plans!;
    assert.deepEqual(plans.map((p) => p.ops), summed.map((p) => p.ops), 'the same plan as from the summed routing');
  });

  it('a step run again after a crash replaces its first run\'s reports: one plan, from the second', () => {
    const summed = start().receive({ type: 'load', step: 0, counts: hot(0) }, ctx);
    const s = start();
    const emitted: { type: string; plans?: typeof summed }[] = [];
    const heard = { emit: (e: (typeof emitted)[number]) => emitted.push(e) } as unknown as ActorContext;
    const report = (counts: number[]) => [0, 1, 2, 3].forEach((source) => s.receive({ type: 'gate-load', step: 0, layer: 0, source, counts }, heard));
    report([250, 250, 250, 100_000]); // the first run: complete, but the step failed before its measurement
    report([100_000, 250, 250, 250]); // the run again
    s.receive({ type: 'measured', step: 0 }, heard);
    const planned = emitted.filter((e) => e.type === 'planned');
    assert.equal(planned.length, 1);
    assert.deepEqual(planned[0]!.plans!.map((p) => p.ops), summed.map((p) => p.ops));
  });

  it('emits each decision as an event', () => {
    const events: { type: string }[] = [];
    const s = start();
    s.receive({ type: 'load', step: 0, counts: hot(0) }, { emit: (e: { type: string }) => events.push(e) } as unknown as ActorContext);
    assert.deepEqual(events.map((e) => e.type), ['balance', 'decision']);
  });
});
