/** The median of a non-empty list (the mean of the middle two for an even length). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Devices that meet after every segment of work (an MoE layer's forward, its backward) wait for
 * the slowest: Σ over segments of (max − mean) of `ms[device][segment]` is the time a perfect
 * balance would save. Imbalances in opposite directions in two segments do not cancel.
 */
export function imbalanceMs(ms: readonly (readonly number[])[]): number {
  if (!ms.length) return 0;
  let total = 0;
  for (let s = 0; s < ms[0]!.length; s++) {
    let max = -Infinity, sum = 0;
    for (const d of ms) {
      max = Math.max(max, d[s]!);
      sum += d[s]!;
    }
    total += max - sum / ms.length;
  }
  return total;
}

/** Per device, the expert time over its segments, and the imbalance over them (`imbalanceMs`): what steps and passes report. */
export function expertTimes(ms: readonly (readonly number[])[]): { deviceExpertMs: number[]; expertImbalanceMs: number } {
  return { deviceExpertMs: ms.map((d) => d.reduce((a, b) => a + b, 0)), expertImbalanceMs: imbalanceMs(ms) };
}

/** The most a perfect, free balance could speed a step up: its time over its time less the imbalance. */
export function headroom(stepMs: number, imbalance: number): number {
  return stepMs / (stepMs - imbalance);
}

/**
 * How much of a headroom a policy took: (its speed-up − 1) ÷ (headroom − 1), 1 for all of it;
 * null where there was none to take.
 */
export function captured(speedup: number, headroom: number): number | null {
  return headroom > 1 ? (speedup - 1) / (headroom - 1) : null;
}
