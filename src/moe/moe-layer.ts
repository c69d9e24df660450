import type { Backend } from '../kernels/backend.js';
import type { F32 } from '../tensor/tensor.js';
import type { InitOptions, Parameter } from '../nn/parameter.js';
import type { Rng } from '../nn/random.js';
import { LastPass } from '../autograd/grad.js';
import { combine, regroupRows, type RowSource } from '../autograd/moe-ops.js';
import type { Gate, GateOptions, Routing } from './gate.js';
import { makeGate } from './gates.js';
import { makeExpert, type Expert } from './experts.js';

export interface MoELayerOptions extends GateOptions {
  dFF: number;
  /** The expert class, by its registered name (`registerExpert`); default `ffn` (Linear → GELU → Linear). */
  expert?: string;
}

/**
 * A Mixture-of-Experts FFN layer in one process: y[t] = Σ_j w[t,j] · expert_{e(t,j)}(x[t]) over kept
 * assignments (dropped ones contribute nothing; the block's residual carries the token). Written
 * forward only: routing, gathering each expert's rows and combining are autograd ops. An expert may
 * have several replicas: its assignments split into contiguous blocks, each computed by one call
 * of the expert, and the tape sums their gradients as an all-reduce would. Each output row depends
 * only on its own input row, so replication never changes the forward values.
 */
export class MoELayer {
  readonly gate: Gate;
  readonly experts: Expert[];
  readonly recordsOnTape = true;
  private replicaCounts: number[];
  private readonly pass: LastPass;
  lastRouting: Routing | null = null;

  constructor(private readonly be: Backend, readonly dModel: number, readonly opts: MoELayerOptions & InitOptions & { name?: string; outStd?: number }) {
    const name = opts.name ?? 'moe';
    this.gate = makeGate(be, dModel, { ...opts, name: `${name}.gate`, rng: opts.rng.fork(1) });
    this.experts = Array.from({ length: opts.experts }, (_, e) => makeExpert(be, opts.expert, { name: `${name}.expert${e}`, dModel, dFF: opts.dFF, rng: opts.rng.fork(100 + e), dtype: opts.dtype, outStd: opts.outStd }));
    this.replicaCounts = this.experts.map(() => 1);
    this.pass = new LastPass(be, 'MoELayer');
  }

  /** Sets how many replicas each expert has (placement, in one process). */
  setReplicaCounts(counts: readonly number[]): void {
    this.replicaCounts = this.experts.map((_, e) => Math.max(1, counts[e] ?? 1));
  }

  async forward(x: F32, noise?: Rng): Promise<F32> {
    return this.pass.run([x], () => this.parameters(), () => this.route(x, noise));
  }

  private async route(x: F32, noise?: Rng): Promise<F32> {
    const routing = await this.gate.forward(x, noise);
    this.lastRouting = routing;
    const k = this.opts.topk, E = this.opts.experts, d = this.dModel;
    // Assignments per expert in token order.
    const perExpert: number[][] = Array.from({ length: E }, () => []);
    for (let t = 0; t < x.rows; t++) for (let j = 0; j < k; j++) if (routing.kept[t * k + j]) perExpert[routing.indices.data[t * k + j]!]!.push(t * k + j);
    const blocks: { expert: number; slots: number[] }[] = [];
    for (let e = 0; e < E; e++) {
      const all = perExpert[e]!, r = this.replicaCounts[e]!;
      for (let i = 0; i < r; i++) {
        const slots = all.slice(Math.floor((i * all.length) / r), Math.floor(((i + 1) * all.length) / r));
        if (slots.length) blocks.push({ expert: e, slots });
      }
    }
    const sources: RowSource[] = blocks.map(({ slots }) => ({ src: new Int32Array(slots.length), row: Int32Array.from(slots, (s) => Math.floor(s / k)) }));
    const inputs = await regroupRows([x], sources, d, x.dtype);
    const outs: F32[] = [];
    for (let b = 0; b < blocks.length; b++) outs.push(await this.experts[blocks[b]!.expert]!.forward(inputs[b]!));
    // Where each slot's output is; the combine sums each token's experts in expert order.
    const plan = { g: new Int32Array(x.rows * k).fill(-1), i: new Int32Array(x.rows * k) };
    blocks.forEach(({ slots }, g) => slots.forEach((slot, i) => ((plan.g[slot] = g), (plan.i[slot] = i))));
    return combine(routing.weightTensor, outs, plan, routing.indices, d, x.dtype);
  }

  /** d(loss)/dx of the last forward; gate and expert gradients accumulate, the router's auxiliary losses included. */
  async backward(dy: F32): Promise<F32> {
    return (await this.pass.backward(dy))[0]!;
  }

  /** The gate's auxiliary losses of the last forward (to add to the training loss). */
  auxLoss(): number {
    return this.lastRouting ? this.lastRouting.auxLoss + this.lastRouting.zLoss : 0;
  }

  parameters(): Parameter[] {
    return [...this.gate.parameters(), ...this.experts.flatMap((x) => x.parameters())];
  }
}
