/** Shared timing for benchmarks: warm-up, then medians of batched samples (2 cores, noisy: never a lone time). */
import { median } from '../src/stats.js';

export { median };
export const now = (): number => performance.now();

/** Median milliseconds per call of `fn`, sampled until `minMs` and `minSamples` are both reached. */
export async function timeAsync(fn: () => unknown, { warm = 2, minMs = 400, minSamples = 5, maxSamples = 200 } = {}): Promise<number> {
  for (let i = 0; i < warm; i++) await fn();
  let t0 = now();
  await fn();
  const one = now() - t0;
  const batch = Math.max(1, Math.floor(2 / Math.max(one, 1e-3))); // about 2 ms per sample
  const samples: number[] = [];
  const start = now();
  while ((samples.length < minSamples || now() - start < minMs) && samples.length < maxSamples) {
    t0 = now();
    for (let i = 0; i < batch; i++) await fn();
    samples.push((now() - t0) / batch);
  }
  return median(samples);
}

export const round = (x: number, digits = 3): number => Number(x.toPrecision(digits));

/**
 * Times `fast` and `slow` in alternating rounds (this machine's speed drifts, so neither always
 * runs in the better spell) and returns the median ms of each and the median of the per-round
 * ratios slow ÷ fast.
 */
export async function interleaved(fast: () => unknown, slow: () => unknown, rounds: number): Promise<{ fastMs: number; slowMs: number; speedup: number }> {
  const fastMs: number[] = [], slowMs: number[] = [], ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const f = await timeAsync(fast), s = await timeAsync(slow);
    fastMs.push(f);
    slowMs.push(s);
    ratios.push(s / f);
  }
  return { fastMs: median(fastMs), slowMs: median(slowMs), speedup: median(ratios) };
}
