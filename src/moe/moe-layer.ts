import type { Backend } from '../kernels/backend.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import { ExpertFFN } from '../nn/ffn.js';
import type { InitOptions, Parameter } from '../nn/parameter.js';
import type { Rng } from '../nn/random.js';
import { Gate, type GateOptions, type Routing } from './gate.js';
import { addGateGradient, combineBackward, routerLoss, scatterRows } from './rows.js';

export interface MoELayerOptions extends GateOptions {
  dFF: number;
}

/** The assignments one expert replica computes: rows of the batch and their routing slots. */
interface Block {
  expert: number;
  replica: number;
  /** (token·k + choice) of each row. */
  slots: Int32Array;
  out: F32 | null;
}

/**
 * A Mixture-of-Experts FFN layer: y[t] = Σ_j w[t,j] · expert_{e(t,j)}(x[t]) over kept assignments
 * (dropped ones contribute nothing; the block's residual carries the token). An expert may have
 * several replicas: its assignments split into contiguous blocks, one per replica, and replicas share
 * parameters, so their gradients add up exactly as an all-reduce would. Each output row depends only
 * on its own input row, so replication never changes the forward values.
 */
export class MoELayer {
  readonly gate: Gate;
  readonly experts: ExpertFFN[];
  private replicas: ExpertFFN[][];
  private saved: { x: F32; routing: Routing; blocks: Block[] } | null = null;
  lastRouting: Routing | null = null;

  constructor(be: Backend, readonly dModel: number, readonly opts: MoELayerOptions & InitOptions & { name?: string; outStd?: number }) {
    const name = opts.name ?? 'moe';
    this.gate = new Gate(be, dModel, { ...opts, name: `${name}.gate`, rng: opts.rng.fork(1) });
    this.experts = Array.from({ length: opts.experts }, (_, e) => new ExpertFFN(be, dModel, opts.dFF, { rng: opts.rng.fork(100 + e), dtype: opts.dtype, name: `${name}.expert${e}`, outStd: opts.outStd }));
    this.replicas = this.experts.map((x) => [x]);
  }

  /** Sets how many replicas each expert has (placement, in one process). */
  setReplicaCounts(counts: readonly number[]): void {
    this.replicas = this.experts.map((x, e) => Array.from({ length: Math.max(1, counts[e] ?? 1) }, (_, r) => (r === 0 ? x : x.replica())));
  }

  async forward(x: F32, noise?: Rng): Promise<F32> {
    const routing = await this.gate.forward(x, noise);
    this.lastRouting = routing;
    const k = this.opts.topk, E = this.opts.experts, d = this.dModel;
    // Assignments per expert in token order, first choices and second choices interleaved by token.
    const perExpert: number[][] = Array.from({ length: E }, () => []);
    for (let t = 0; t < x.rows; t++) for (let j = 0; j < k; j++) if (routing.kept[t * k + j]) perExpert[routing.indices.data[t * k + j]!]!.push(t * k + j);
    const blocks: Block[] = [];
    const y = Tensor.zeros([x.rows, d], x.dtype) as F32;
    for (let e = 0; e < E; e++) {
      const all = perExpert[e]!, reps = this.replicas[e]!;
      for (let r = 0; r < reps.length; r++) {
        const slots = Int32Array.from(all.slice(Math.floor((r * all.length) / reps.length), Math.floor(((r + 1) * all.length) / reps.length)));
        if (!slots.length) continue;
        const xe = Tensor.zeros([slots.length, d], x.dtype) as F32;
        slots.forEach((s, i) => xe.data.set(x.data.subarray(Math.floor(s / k) * d, Math.floor(s / k) * d + d), i * d));
        const out = await reps[r]!.forward(xe);
        slots.forEach((s, i) => {
          const t = Math.floor(s / k), w = routing.weights[s]!;
          for (let c = 0; c < d; c++) y.data[t * d + c]! += w * out.data[i * d + c]!;
        });
        blocks.push({ expert: e, replica: r, slots, out });
      }
    }
    this.saved = { x, routing, blocks };
    return y;
  }

  /** dy → dx; expert and gate parameter gradients accumulate; `auxScale` weighs the gate's auxiliary losses. */
  async backward(dy: F32, auxScale = 1): Promise<F32> {
    const { x, routing, blocks } = this.saved!;
    const k = this.opts.topk;
    const dx = Tensor.zeros(x.shape, x.dtype) as F32;
    const dWeights = new Float64Array(x.rows * k);
    // Each replica instance computed exactly one block, so its saved activations are that block's.
    for (const { expert, replica, slots, out } of blocks) {
      const dxe = await this.replicas[expert]![replica]!.backward(combineBackward(dy, out!, slots, routing.weights, k, dWeights));
      scatterRows(dx, dxe, slots, k);
    }
    return addGateGradient(this.gate, dx, dWeights, auxScale);
  }

  /** The gate's auxiliary losses of the last forward (to add to the training loss). */
  auxLoss(): number {
    return routerLoss(this.lastRouting);
  }

  parameters(): Parameter[] {
    return [...this.gate.parameters(), ...this.experts.flatMap((x) => x.parameters())];
  }
}
