import assert from 'node:assert/strict';
import { map, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { balance, foldSteps, loadViews, trigger, windowLoad, type BalanceSample, type LayerLoad, type LoadEvent, type StepLoad } from '../src/sched/operators/index.js';
import { schedule, type Decision } from '../src/sched/pipeline.js';
import { Placement } from '../src/sched/placement.js';
import { flexmoePolicy } from '../src/sched/policies/index.js';
import { clusterA100 } from '../src/sched/cost.js';
import { planFlexMoE } from '../src/sched/planner.js';
import type { LoadView } from '../src/sched/policy.js';

const marbles = () => new TestScheduler((a, b) => assert.deepEqual(a, b));
const step = (s: number, ...rows: number[][]): StepLoad => ({ step: s, layer: 0, counts: rows.map((r) => Float64Array.from(r)) });
const view = (s: number, ...history: number[][]): LayerLoad => ({ layer: 0, view: { step: s, history: history.map((h) => Float64Array.from(h)), current: [], topk: 1 } });
const sample = (ratio: number): BalanceSample => ({ ...view(0), load: new Float64Array(), ratio, utilization: 1 / ratio, deviceLoads: new Float64Array() });

describe('the scheduling pipeline (marble tests, virtual time)', () => {
  it('foldSteps emits a step once every source reported, in any order; duplicates overwrite', () => {
    marbles().run(({ cold, expectObservable }) => {
      const ev = (stepN: number, source: number, counts: number[]): LoadEvent => ({ step: stepN, layer: 0, source, counts });
      const src = cold<LoadEvent>('-a-b-c-d-', { a: ev(0, 1, [1, 2]), b: ev(0, 1, [3, 4]), c: ev(1, 0, [9, 9]), d: ev(0, 0, [5, 6]) });
      expectObservable(src.pipe(foldSteps(2))).toBe('-------x-', { x: step(0, [5, 6], [3, 4]) });
    });
  });

  it('loadViews: per layer, the history of totals (capped) and the step being planned for', () => {
    marbles().run(({ cold, expectObservable }) => {
      const src = cold<StepLoad>('-a-b-c|', { a: step(0, [1, 1], [1, 0]), b: { ...step(0, [5, 5]), layer: 1 }, c: step(1, [3, 0]) });
      const v = (layer: number, s: number, current: number[][], ...history: number[][]) => ({ layer, view: { step: s, history: history.map((h) => Float64Array.from(h)), current: current.map((r) => Float64Array.from(r)), topk: 2 } });
      expectObservable(src.pipe(loadViews(1, 2))).toBe('-x-y-z|', { x: v(0, 1, [[1, 1], [1, 0]], [2, 1]), y: v(1, 1, [[5, 5]], [5, 5]), z: v(0, 2, [[3, 0]], [3, 0]) });
    });
  });

  it('windowLoad: moving average, EMA, last step and FlexMoE\'s rise, from each view\'s history', () => {
    marbles().run(({ cold, expectObservable }) => {
      const src = cold<LayerLoad>('-a-b-c|', { a: view(1, [2]), b: view(2, [2], [4]), c: view(3, [2], [4], [6]) });
      const est = (l: LayerLoad, v: number) => ({ ...l, load: Float64Array.from([v]) });
      const [a, b, c] = [view(1, [2]), view(2, [2], [4]), view(3, [2], [4], [6])];
      expectObservable(src.pipe(windowLoad({ kind: 'mean', window: 2 }))).toBe('-x-y-z|', { x: est(a, 2), y: est(b, 3), z: est(c, 5) });
      expectObservable(src.pipe(windowLoad({ kind: 'ema', alpha: 0.5 }))).toBe('-x-y-z|', { x: est(a, 2), y: est(b, 3), z: est(c, 4.5) });
      expectObservable(src.pipe(windowLoad({ kind: 'last' }))).toBe('-x-y-z|', { x: est(a, 2), y: est(b, 4), z: est(c, 6) });
      // rise: 4 after 2 exceeds 1.3× the mean (3): taken at once; 4.5 after [2, 4] (mean 3.5) does not.
      const d = view(3, [2], [4], [4.5]);
      const rising = cold<LayerLoad>('-a-b-d|', { a, b, d });
      expectObservable(rising.pipe(windowLoad({ kind: 'rise', window: 3, riseFactor: 1.3 }))).toBe('-x-y-z|', { x: est(a, 2), y: est(b, 4), z: est(d, 3.5) });
    });
  });

  it('balance reports max ÷ mean and its inverse under the current placement', () => {
    const p = Placement.roundRobin(2, 2, 2);
    let got: BalanceSample | undefined;
    of({ ...view(3), load: Float64Array.from([30, 10]) }).pipe(balance(() => p)).subscribe((s) => (got = s));
    assert.equal(got!.ratio, 1.5);
    assert.equal(got!.utilization, 1 / 1.5);
    assert.deepEqual(Array.from(got!.deviceLoads), [30, 10]);
  });

  it('trigger: hysteresis passes samples only while armed, without flapping; a later stage may stand it down', () => {
    marbles().run(({ cold, expectObservable }) => {
      const src = cold<BalanceSample>('-a-b-c-d-e-f|', { a: sample(1.2), b: sample(1.4), c: sample(1.2), d: sample(1.05), e: sample(1.2), f: sample(1.31) });
      expectObservable(src.pipe(trigger({ threshold: 1.3, release: 1.1 }))).toBe('---b-c-----f|', { b: sample(1.4), c: sample(1.2), f: sample(1.31) });
    });
    const state = { armed: false };
    const passed: number[] = [];
    of(sample(1.4), sample(1.2), sample(1.2)).pipe(trigger({ threshold: 1.3, release: 1.1 }, state)).subscribe((s) => {
      passed.push(s.ratio);
      state.armed = false; // what the plan stage does when nothing pays for itself
    });
    assert.deepEqual(passed, [1.4], 'stood down: 1.2 does not re-arm it');
  });

  it('schedule, as the scheduler actor and the simulator run it: FlexMoE plans once a skew arms it, per layer, and only when ready', () => {
    const cost = { ...clusterA100, devicesPerNode: 4 };
    const flat = [1000, 1000, 1000, 1000], hot = [6000, 1000, 1000, 1000];
    const lv = (layer: number, s: number, ...h: number[][]): LayerLoad => ({ layer, view: { ...view(s, ...h).view } as LoadView });
    const run = (ready: boolean) => {
      const placements = [Placement.roundRobin(4, 2, 4), Placement.roundRobin(4, 2, 4)];
      const policies = [flexmoePolicy(), flexmoePolicy()];
      const decisions: Decision[] = [];
      marbles().run(({ cold, expectObservable }) => {
        // Layer 0 stays flat; layer 1 turns hot at its second step.
        const src = cold<LayerLoad>('-a-b-c-d|', { a: lv(0, 1, flat), b: lv(1, 1, flat), c: lv(0, 2, flat, flat), d: lv(1, 2, flat, hot) });
        const out = src.pipe(schedule({ policyOf: (l) => policies[l]!, placementOf: (l) => placements[l]!, profile: () => cost, ready: () => ready }));
        if (ready) expectObservable(out.pipe(map((d) => d.layer))).toBe('-------x|', { x: 1 });
        out.subscribe((d) => decisions.push(d));
      });
      return decisions;
    };
    const [d] = run(true);
    // The surge is a new regime: planned from the hot step itself.
    assert.deepEqual(d!.ops, planFlexMoE(Float64Array.from(hot), Placement.roundRobin(4, 2, 4), cost, { horizon: 25, locality: true }));
    assert.deepEqual(Array.from(d!.load), hot);
    assert.deepEqual(run(false), [], 'a scheduler waiting for what its last plan cost decides nothing');
  });
});
