import assert from 'node:assert/strict';
import { expertTime, headroomShares, roundOrder } from '../src/cli/compare.js';
import type { DistributedStep } from '../src/train/distributed.js';
import { captured, expertTimes, headroom, imbalanceMs } from '../src/stats.js';

describe('flexmoe compare: run order and the experts\' time', () => {
  it('rotates and reverses the policies so none always runs first (ABBA for two)', () => {
    assert.deepEqual([0, 1, 2, 3].map((r) => roundOrder(['a', 'b'], r).join('')), ['ab', 'ba', 'ba', 'ab']);
    assert.deepEqual([0, 1, 2, 3].map((r) => roundOrder(['a', 'b', 'c'], r).join('')), ['abc', 'cba', 'bca', 'acb']);
  });

  it('an imbalance is summed over the segments devices meet after: opposite ones do not cancel', () => {
    // Two devices, two layers: device 0 busy in layer 0, device 1 in layer 1; equal totals.
    assert.equal(imbalanceMs([[3, 1], [1, 3]]), 2);
    assert.equal(imbalanceMs([[2, 2], [2, 2]]), 0);
    assert.equal(imbalanceMs([[6], [0], [3]]), 3, 'max 6 over a mean of 3');
    assert.equal(imbalanceMs([]), 0);
    assert.deepEqual(expertTimes([[3, 1], [1, 3]]), { deviceExpertMs: [4, 4], expertImbalanceMs: 2 }, 'even totals, uneven layers');
    assert.equal(headroom(10, 2), 1.25, 'a 10 ms step with 2 ms of imbalance: at most 1.25x');
    assert.equal(headroom(10, 0), 1);
    assert.equal(captured(1.25, 1.5), 0.5, 'a 1.25x speed-up of a 1.5x headroom takes half of it');
    assert.equal(captured(0.75, 1.5), -0.5, 'a slowdown takes a negative share');
    assert.equal(captured(1.1, 1), null, 'no headroom, no share');
  });

  it('reads the headroom from static-unpadded, beyond uniform routing\'s own imbalance when known, and each policy\'s share of it', () => {
    const row = (policy: string, tokensPerSec: number, stepMs: number, imbalanceMs: number) => ({ policy, tokensPerSec, stepMs, imbalanceMs });
    const rows = [row('static-unpadded', 1000, 10, 2), row('flexmoe', 1125, 8.9, 0.5)];
    const known = headroomShares(rows, 1);
    assert.deepEqual(known.headroom, { stepMs: 10, imbalanceMs: 2, bound: 1.25, floorMs: 1, beyondFloor: 1.1111 });
    assert.equal(known.policies[1]!.captured, 0.5, 'a 1.125x speed-up of a 1.25x headroom: half of it');
    assert.ok(Math.abs(known.policies[1]!.capturedBeyondFloor! - 0.125 / 0.1111) < 1e-12);
    assert.equal(known.policies[0]!.captured, 0, 'static-unpadded takes none of its own headroom');
    const unknown = headroomShares(rows, null);
    assert.equal(unknown.headroom!.bound, 1.25);
    assert.equal('beyondFloor' in unknown.headroom!, false, 'no calibration runs, no floor');
    assert.equal(unknown.policies[1]!.capturedBeyondFloor, null);
    const none = headroomShares([row('static', 1000, 10, 2), row('flexmoe', 1125, 8.9, 0.5)], 1);
    assert.equal(none.headroom, null, 'the headroom is read from a static-unpadded run, and there was none');
    assert.deepEqual(none.policies.map((p) => [p.captured, p.capturedBeyondFloor]), [[null, null], [null, null]]);
  });

  it('with runs per round, the speed-up is the median of the ratios within a round, not the ratio of medians', () => {
    // Round 2 found the machine slow for static-unpadded and fast for flexmoe; within each of the
    // other rounds flexmoe ran 1.2x static-unpadded.
    const rows = [
      { policy: 'static-unpadded', tokensPerSec: 620, stepMs: 10, imbalanceMs: 3, perRound: [1000, 600, 620] },
      { policy: 'flexmoe', tokensPerSec: 1200, stepMs: 8.4, imbalanceMs: 1, perRound: [1200, 720, 1260] },
    ];
    const shares = headroomShares(rows, null);
    assert.ok(Math.abs(shares.policies[1]!.speedup! - 1.2) < 1e-12, `speed-up ${shares.policies[1]!.speedup}`);
    assert.ok(Math.abs(shares.policies[1]!.captured! - 0.2 / (10 / 7 - 1)) < 1e-3, 'the share of a 1.2x speed-up');
    const unequal = headroomShares([rows[0]!, { ...rows[1]!, perRound: [1200, 720] }], null);
    assert.equal(unequal.policies[1]!.speedup, 1200 / 620, 'rounds that do not pair: the ratio of the rows\' medians');
  });

  it('reads the busiest device\'s expert time and the step\'s imbalance, median over steps', () => {
    const step = (deviceExpertMs: number[], expertImbalanceMs: number) => ({ deviceExpertMs, expertImbalanceMs }) as DistributedStep;
    assert.deepEqual(expertTime([step([4, 2], 1), step([2, 2], 0), step([6, 0], 3)]), { expertMs: 4, imbalanceMs: 1 });
    assert.deepEqual(expertTime([]), { expertMs: 0, imbalanceMs: 0 });
  });
});
