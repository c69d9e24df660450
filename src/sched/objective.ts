import type { CostProfile, UnitCosts } from './cost.js';
import type { Traffic } from './traffic.js';

/**
 * The FlexMoE planner's score of a candidate state (lower is better), in ms: expert compute,
 * all-to-all passes over the slowest device's links, and the largest per-device replica
 * all-reduce. Step time follows the busiest device, but a greedy on the max alone stalls on
 * plateaus (two devices near the max: relieving either changes nothing); half the weight on the
 * mean of the busiest eighth of devices lets each step of such a climb count. The returned
 * function reuses its scratch buffers: one per plan, never shared between threads.
 */
export function plannerObjective(D: number, cost: CostProfile, u: UnitCosts): (t: Traffic, sync: Float64Array) => number {
  const passes = cost.training ? 4 : 2;
  const top = Math.max(1, Math.floor(D / 8));
  const scratch = new Float64Array(D), busiestFew = new Float64Array(top);
  return (t, s) => {
    let ml = 0, ms = 0;
    for (let d = 0; d < D; d++) {
      if (t.load[d]! > ml) ml = t.load[d]!;
      if (s[d]! > ms) ms = s[d]!;
    }
    const a2a = t.a2aMs(u);
    let topMean = ml;
    if (top > 1 && top <= 8) {
      // The busiest few by insertion into an ascending buffer (cheaper than sorting all D).
      busiestFew.fill(-Infinity);
      for (let d = 0; d < D; d++) {
        const v = t.load[d]!;
        if (v <= busiestFew[0]!) continue;
        let i = 0;
        while (i + 1 < top && busiestFew[i + 1]! < v) {
          busiestFew[i] = busiestFew[i + 1]!;
          i++;
        }
        busiestFew[i] = v;
      }
      topMean = 0;
      for (let i = 0; i < top; i++) topMean += busiestFew[i]!;
      topMean /= top;
    } else if (top > 8) {
      scratch.set(t.load);
      scratch.sort();
      topMean = 0;
      for (let i = D - top; i < D; i++) topMean += scratch[i]!;
      topMean /= top;
    }
    return (0.5 * ml + 0.5 * topMean) * u.expertMsPerToken + passes * a2a + ms;
  };
}
