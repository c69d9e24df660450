import assert from 'node:assert/strict';
import { of, timer, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { balance, foldSteps, replan, trigger, windowLoad, type BalanceSample, type LoadEvent, type StepLoad } from '../src/sched/operators/index.js';
import { Placement } from '../src/sched/placement.js';

const marbles = () => new TestScheduler((a, b) => assert.deepEqual(a, b));
const step = (s: number, ...rows: number[][]): StepLoad => ({ step: s, layer: 0, counts: rows.map((r) => Float64Array.from(r)) });
const sample = (ratio: number): BalanceSample => ({ step: 0, layer: 0, load: new Float64Array(), ratio, utilization: 1 / ratio, deviceLoads: new Float64Array() });

describe('load telemetry operators (marble tests, virtual time)', () => {
  it('foldSteps emits a step once every source reported, in any order; duplicates overwrite', () => {
    marbles().run(({ cold, expectObservable }) => {
      const ev = (stepN: number, source: number, counts: number[]): LoadEvent => ({ step: stepN, layer: 0, source, counts });
      const src = cold<LoadEvent>('-a-b-c-d-', { a: ev(0, 1, [1, 2]), b: ev(0, 1, [3, 4]), c: ev(1, 0, [9, 9]), d: ev(0, 0, [5, 6]) });
      expectObservable(src.pipe(foldSteps(2))).toBe('-------x-', { x: step(0, [5, 6], [3, 4]) });
    });
  });

  it('windowLoad: moving average, EMA and last step, per layer', () => {
    marbles().run(({ cold, expectObservable }) => {
      const src = cold<StepLoad>('-a-b-c|', { a: step(0, [2], [0]), b: step(1, [4]), c: step(2, [6]) });
      const loads = (values: number[]) => ({ step: 0, layer: 0, load: Float64Array.from(values) });
      const est = (s: number, v: number) => ({ ...loads([v]), step: s });
      expectObservable(src.pipe(windowLoad({ kind: 'mean', window: 2 }))).toBe('-x-y-z|', { x: est(0, 2), y: est(1, 3), z: est(2, 5) });
      expectObservable(src.pipe(windowLoad({ kind: 'ema', alpha: 0.5 }))).toBe('-x-y-z|', { x: est(0, 2), y: est(1, 3), z: est(2, 4.5) });
      expectObservable(src.pipe(windowLoad({ kind: 'last' }))).toBe('-x-y-z|', { x: est(0, 2), y: est(1, 4), z: est(2, 6) });
    });
  });

  it('balance reports max ÷ mean and its inverse under the current placement', () => {
    const p = Placement.roundRobin(2, 2, 2);
    let got: BalanceSample | undefined;
    of({ step: 3, layer: 0, load: Float64Array.from([30, 10]) }).pipe(balance(() => p)).subscribe((s) => (got = s));
    assert.equal(got!.ratio, 1.5);
    assert.equal(got!.utilization, 1 / 1.5);
    assert.deepEqual(Array.from(got!.deviceLoads), [30, 10]);
  });

  it('trigger: hysteresis passes samples only while armed, without flapping', () => {
    marbles().run(({ cold, expectObservable }) => {
      const src = cold<BalanceSample>('-a-b-c-d-e-f|', { a: sample(1.2), b: sample(1.4), c: sample(1.2), d: sample(1.05), e: sample(1.2), f: sample(1.31) });
      expectObservable(src.pipe(trigger({ threshold: 1.3, release: 1.1 }))).toBe('---b-c-----f|', { b: sample(1.4), c: sample(1.2), f: sample(1.31) });
    });
  });

  it('replan throttles (leading and trailing) and never runs two plans at once', () => {
    marbles().run(({ cold, expectObservable }) => {
      const src = cold<number>('a-b-c------d|', { a: 1, b: 2, c: 3, d: 4 });
      // Each plan takes 3 frames; the throttle window is 5: a (leading) plans at 0–3, c (trailing, 5) at
      // 5–8, b is dropped by the throttle, d (leading again, 11) at 11–14.
      const out = src.pipe(replan(5, (n) => timer(3).pipe(map(() => n * 10))));
      expectObservable(out).toBe('---x----y-----(z|)', { x: 10, y: 30, z: 40 });
      // Plans of 8 frames: c (trailing, 5) arrives while a's plan runs and is dropped, not queued.
      const slow = src.pipe(replan(5, (n) => timer(8).pipe(map(() => n * 10))));
      expectObservable(slow).toBe('--------x----------(z|)', { x: 10, z: 40 });
    });
  });
});
