import { errors } from '../errors.js';
import { Rng } from '../nn/random.js';

/** Token assignments of one step and layer: counts[s][e] from source device s to expert e. */
export type Counts = Float64Array[];

/** Anything that yields per-step routing: synthetic workloads and recorded traces. */
export interface RoutingSource {
  readonly experts: number;
  readonly topk: number;
  readonly layers: number;
  readonly steps: number;
  /** counts[layer] for `step`, spread over `devices` source devices. */
  at(step: number, devices: number): Counts[];
}

/**
 * How skewed a routing is: the hottest expert's assignments over the mean, per layer and step, the
 * median over up to `samples` steps spread through the run. Learned routers show about 1.1–1.5
 * (docs/benchmarks.md, calibrated families); the simulator's zipf 1–2 families, 13–31 at 64 experts.
 */
export function hottestOverMean(source: RoutingSource, samples = 50): number {
  const ratios: number[] = [];
  const n = Math.min(samples, source.steps);
  for (let i = 0; i < n; i++) {
    const step = Math.floor((i * source.steps) / n);
    for (const layer of source.at(step, 1)) {
      const totals = new Float64Array(source.experts);
      for (const row of layer) for (let e = 0; e < source.experts; e++) totals[e]! += row[e]!;
      let max = 0, sum = 0;
      for (const v of totals) [max, sum] = [Math.max(max, v), sum + v];
      if (sum > 0) ratios.push((max * source.experts) / sum);
    }
  }
  ratios.sort((a, b) => a - b);
  return ratios.length ? ratios[ratios.length >> 1]! : 1;
}

export interface WorkloadSpec {
  /** Zipf exponent of expert popularity: 0 uniform, 2 very skewed. */
  zipf: number;
  /** The hot set moves: ranks rotate one place every `driftEvery` steps. */
  drift: boolean;
  /** Short spikes: occasionally one expert gets a large share for a few steps. */
  burst: boolean;
  /** Early steps fluctuate wildly (popularity reshuffled every few steps), then settle. */
  transient: boolean;
}

/** Parses `zipf:S[,drift][,burst][,transient]`; an error names `what` (the flag or option it came from). */
export function parseWorkload(spec: string, what = '--workload'): WorkloadSpec {
  const m = /^zipf:([0-9.]+)((?:,(?:drift|burst|transient))*)$/.exec(spec.trim());
  if (!m) throw errors.badArgument(what, `"${spec}" is not zipf:S[,drift][,burst][,transient]`);
  const flags = m[2]!.split(',').filter(Boolean);
  return { zipf: Number(m[1]), drift: flags.includes('drift'), burst: flags.includes('burst'), transient: flags.includes('transient') };
}

/**
 * Caps every share of `p` (summing to 1) at `cap`, in place, handing the excess to the uncapped
 * shares in proportion until none is over: with top-k routing a token's k choices are distinct
 * experts, so no expert can receive more than 1/k of the assignments (GShard, Switch, Mixtral).
 */
export function capShares(p: Float64Array, cap: number): Float64Array {
  for (let round = 0; round < p.length; round++) {
    let excess = 0, free = 0;
    for (const v of p) {
      if (v > cap) excess += v - cap;
      else if (v < cap) free += v;
    }
    if (excess <= 1e-12 || free <= 0) break;
    for (let e = 0; e < p.length; e++) p[e] = p[e]! >= cap ? cap : p[e]! + (excess * p[e]!) / free;
  }
  return p;
}

/**
 * A synthetic, seeded routing workload: Zipf(S) expert popularity over a random ranking, per-source
 * multiplicative noise, and optional drift, bursts and a transient phase; its counts give no expert
 * more than 1/k of the assignments (capShares). Deterministic for a seed.
 */
export class SyntheticWorkload implements RoutingSource {
  readonly layers = 1;
  private readonly baseRank: number[];
  driftEvery = 25;

  constructor(
    readonly spec: WorkloadSpec,
    readonly experts: number,
    readonly topk: number,
    readonly steps: number,
    readonly tokensPerDevice: number,
    readonly seed: number,
  ) {
    if (!Number.isInteger(topk) || topk < 1 || topk > experts) throw errors.badArgument('workload', `topk ${topk} must be an integer from 1 to the ${experts} experts`);
    const rng = new Rng(seed);
    this.baseRank = [...Array(experts).keys()];
    for (let i = experts - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [this.baseRank[i], this.baseRank[j]] = [this.baseRank[j]!, this.baseRank[i]!];
    }
  }

  /** Expert popularity (sums to 1) at `step`. */
  popularity(step: number): Float64Array {
    const { zipf, drift, burst, transient } = this.spec;
    const E = this.experts;
    let rankOf = this.baseRank;
    const transientSteps = Math.floor(this.steps * 0.3);
    if (transient && step < transientSteps) {
      const epoch = new Rng(this.seed + 31 * Math.floor(step / 5));
      rankOf = [...rankOf];
      for (let i = E - 1; i > 0; i--) {
        const j = epoch.int(i + 1);
        [rankOf[i], rankOf[j]] = [rankOf[j]!, rankOf[i]!];
      }
    }
    const shift = drift ? Math.floor(step / this.driftEvery) : 0;
    const p = new Float64Array(E);
    let sum = 0;
    for (let e = 0; e < E; e++) {
      const rank = (rankOf[e]! + shift) % E;
      p[e] = 1 / (rank + 1) ** zipf;
      sum += p[e]!;
    }
    if (burst) {
      const window = Math.floor(step / 40);
      const b = new Rng(this.seed + 977 * window);
      if (step % 40 < 6 && b.next() < 0.7) p[b.int(E)]! += sum * 0.5;
    }
    let total = 0;
    for (let e = 0; e < E; e++) total += p[e]!;
    for (let e = 0; e < E; e++) p[e]! /= total;
    return p;
  }

  /**
   * Assignments per source device and expert at `step`. Popularity is how often an expert would be
   * a token's pick; a token's k picks are distinct experts, so the assignment shares are capped at
   * 1/k (capShares). Live routing by the same workload samples k distinct experts per token instead.
   */
  at(step: number, devices: number): Counts[] {
    const p = capShares(this.popularity(step), 1 / this.topk);
    const noise = this.spec.transient && step < this.steps * 0.3 ? 0.3 : 0.1;
    const total = this.tokensPerDevice * this.topk;
    const counts: Counts = [];
    for (let s = 0; s < devices; s++) {
      const rng = new Rng((this.seed + 1) * 65537 + step * 8191 + s * 131);
      const row = new Float64Array(this.experts);
      let sum = 0;
      for (let e = 0; e < this.experts; e++) {
        row[e] = p[e]! * Math.exp(noise * rng.normal());
        sum += row[e]!;
      }
      for (let e = 0; e < this.experts; e++) row[e]! /= sum;
      // Each of a device's tokens picks k distinct experts: no expert gets more than its token count.
      capShares(row, 1 / this.topk);
      for (let e = 0; e < this.experts; e++) row[e] = Math.min(this.tokensPerDevice, Math.round(row[e]! * total));
      counts.push(row);
    }
    return [counts];
  }
}
