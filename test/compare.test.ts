import assert from 'node:assert/strict';
import { expertTime, roundOrder } from '../src/cli/compare.js';
import type { DistributedStep } from '../src/train/distributed.js';

describe('flexmoe compare: run order and the experts\' time', () => {
  it('rotates and reverses the policies so none always runs first (ABBA for two)', () => {
    assert.deepEqual([0, 1, 2, 3].map((r) => roundOrder(['a', 'b'], r).join('')), ['ab', 'ba', 'ba', 'ab']);
    assert.deepEqual([0, 1, 2, 3].map((r) => roundOrder(['a', 'b', 'c'], r).join('')), ['abc', 'cba', 'bca', 'acb']);
  });

  it('reads the busiest device\'s expert time and its excess over the mean, median over steps', () => {
    const step = (deviceExpertMs: number[]) => ({ deviceExpertMs }) as DistributedStep;
    // Excess over the mean per step: 1, 0, 3 → median 1; busiest: 4, 2, 6 → median 4.
    assert.deepEqual(expertTime([step([4, 2]), step([2, 2]), step([6, 0])]), { expertMs: 4, imbalanceMs: 1 });
    assert.deepEqual(expertTime([step([3, 3, 3])]), { expertMs: 3, imbalanceMs: 0 }, 'balanced: nothing to win');
    assert.deepEqual(expertTime([]), { expertMs: 0, imbalanceMs: 0 });
  });
});
