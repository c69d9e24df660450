import { errors } from '../errors.js';
import { parseWorkload, SyntheticWorkload } from '../sched/workload.js';

/**
 * Routing that follows a synthetic workload instead of the router's logits: the same
 * `zipf:S[,drift][,burst][,transient]` popularity the simulator steps through, so a placement policy
 * can be measured live, with real compute, all-to-alls, replicas and migrations, under the skew and
 * drift it is simulated with (the learned router of a small model evens itself out within a few
 * steps). Each token draws its k experts without replacement in proportion to the step's popularity
 * (Gumbel top-k). The draws come from a hash of (seed, step, token's position in the global batch,
 * expert), so they do not depend on the placement, on the device count, on the order anything runs
 * in, or on the values the token carries.
 */
export class WorkloadRouting {
  private readonly workload: SyntheticWorkload;
  private cached = { step: -1, logP: new Float64Array(0) };

  constructor(readonly spec: string, readonly experts: number, readonly topk: number, readonly seed: number, steps: number) {
    const parsed = parseWorkload(spec, 'routing');
    if (parsed.transient && !(steps > 0)) throw errors.badArgument('routing', `"${spec}": a transient phase needs the run's length (steps)`);
    this.workload = new SyntheticWorkload(parsed, experts, topk, Math.max(1, steps), 0, seed);
  }

  /** Expert popularity at `step` (sums to 1). */
  popularity(step: number): Float64Array {
    return this.workload.popularity(step);
  }

  /**
   * [T, k] experts for the T tokens at global batch positions firstToken … firstToken + T − 1 at
   * `step`: distinct per token, in descending draw order.
   */
  choose(step: number, firstToken: number, T: number): Int32Array {
    const E = this.experts, k = this.topk;
    if (this.cached.step !== step) this.cached = { step, logP: this.popularity(step).map(Math.log) };
    const logP = this.cached.logP;
    const out = new Int32Array(T * k);
    const score = new Float64Array(E);
    const base = mix(this.seed, step);
    for (let t = 0; t < T; t++) {
      const tok = mix(base, firstToken + t);
      for (let e = 0; e < E; e++) {
        // A uniform in (0, 1) from 32 hashed bits, then a Gumbel draw.
        const u = (mix(tok, e) + 0.5) / 4294967296;
        score[e] = logP[e]! - Math.log(-Math.log(u));
      }
      for (let j = 0; j < k; j++) {
        // Drawn experts are marked -Infinity; popularities are never 0, so the rest stay finite.
        let best = 0;
        for (let e = 1; e < E; e++) if (score[e]! > score[best]!) best = e;
        out[t * k + j] = best;
        score[best] = -Infinity;
      }
    }
    return out;
  }
}

/** A 32-bit integer hash of (h, v) (murmur3's finaliser over a combined word). */
function mix(h: number, v: number): number {
  let x = (Math.imul(h ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(v + 0x632be5ab, 0xc2b2ae35)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}
