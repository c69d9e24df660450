/**
 * Expert shadowing for one step (FasterMoE's mechanism, He et al., PPoPP'22; laekov/fastmoe,
 * fmoe/fastermoe/schedule.py): after gating, every device knows the whole routing matrix and makes
 * the same choice of experts to shadow; a shadowed expert's weights go from its first replica to
 * every device that holds none, each device computes its own tokens of it on that
 * temporary copy (row messages that stay on the device), and in backward the copies' gradients are summed back
 * into the first replica before the replicas' usual all-reduce. The copies are scratch: nothing of
 * them outlives the step but their storage, which is reused.
 */
import { errors } from '../errors.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import type { Expert } from './expert.js';
import { currentTape } from '../autograd/tape.js';
import type { Parameter } from '../nn/parameter.js';
import type { MoEComm } from './distributed-moe.js';
import { shadowGroup } from './shadow-group.js';

export { shadowGroup };

export interface Shadowing {
  /**
   * The experts to shadow this step, from the step's routing (`routed[source][expert]`
   * assignments) and the placement in force. Every device calls it with the same arguments and
   * must get the same answer.
   */
  choose(routed: readonly Int32Array[], replicas: readonly (readonly number[])[]): readonly number[];
  /** A scratch copy of expert `e` on this device (reused from step to step; its values are overwritten). */
  scratch(e: number): Expert;
}

type Replicas = readonly (readonly number[])[];

/**
 * One MoE layer's shadowing on this device: the step's choice, the weights' trip out to the
 * devices without a replica, and the copies' gradients' trip back.
 */
export class StepShadows {
  /** Experts shadowed in the last forward (ascending). */
  last: number[] = [];
  /** This step's copies, by expert (scratch objects the Shadowing keeps; cleared every forward). */
  private readonly copies = new Map<number, Expert>();

  constructor(private readonly comm: MoEComm, private readonly name: string, private readonly experts: number) {}

  /** This device's copy of expert `e` for this step, if it is shadowed and has no replica here. */
  copy(e: number): Expert | undefined {
    return this.copies.get(e);
  }

  /** This step's shadows, ascending: every device asks with the same routing matrix, so every device gets the same ones. */
  choose(shadowing: Shadowing | undefined, routed: readonly Int32Array[], replicas: Replicas): number[] {
    this.copies.clear();
    if (!shadowing) return (this.last = []);
    const E = this.experts;
    const chosen = shadowing.choose(routed, replicas);
    for (const e of chosen) if (!Number.isInteger(e) || e < 0 || e >= E) throw errors.badArgument(`${this.name} shadowing`, `chose expert ${e}; experts are 0…${E - 1}`);
    return (this.last = [...new Set(chosen)].sort((a, b) => a - b));
  }

  /**
   * Ships each shadowed expert's weights from its first replica to the devices holding none (one
   * all-to-all per group of devices: each root sends the experts it roots), and returns the
   * replicas to route by this step: a shadowed expert is held everywhere, so every token of it
   * stays on its own device.
   */
  async ship(shadowing: Shadowing, shadows: readonly number[], replicas: Replicas, expert: (e: number) => Expert): Promise<Replicas> {
    const { device: me, devices: D, collectives } = this.comm;
    const rootOf = (e: number) => replicas[e]![0]!;
    for (const { group, experts } of shadowBuckets(shadows, replicas, D, me)) {
      const mine = experts.filter((e) => rootOf(e) === me).flatMap((e) => expert(e).parameters());
      const out = (mine.length ? packParameters(mine, 'value') : Tensor.zeros([0])) as F32; // the same to every member
      const got = (await collectives.allToAll(group.map(() => out), group)) as F32[];
      group.forEach((src, i) => {
        if (src === me) return;
        const copies = experts.filter((e) => rootOf(e) === src).map((e) => {
          const copy = shadowing.scratch(e);
          this.copies.set(e, copy);
          return copy;
        });
        const params = copies.flatMap((c) => c.parameters());
        if (params.length) unpackParameters(params, got[i]!, 'value');
        for (const p of params) p.zeroGrad();
        collectives.release(got[i]!);
      });
    }
    // On the tape before the rows' exchange, so its backward runs after the copies' own (each copy
    // runs its backward from the rows' gradients, expert-runner.ts, adding into its parameters'
    // gradients): it sums them into the first replicas (every device of a group joins, copies or not).
    currentTape()?.hook(() => this.returnGradients(shadows, replicas, expert));
    const everywhere = [...Array(D).keys()];
    return replicas.map((r, e) => (shadows.includes(e) ? everywhere : r));
  }

  /**
   * Sums the shadow copies' gradients into each shadowed expert's first replica (one all-reduce per
   * group of devices); a root's own tokens' gradients are in its parameters already, so it adds zeros.
   */
  async returnGradients(shadows: readonly number[], replicas: Replicas, expert: (e: number) => Expert): Promise<void> {
    const { device: me, devices: D, collectives } = this.comm;
    for (const { group, experts } of shadowBuckets(shadows, replicas, D, me)) {
      const params = experts.map((e) => expert(e).parameters());
      const grads = Tensor.zeros([params.reduce((n, p) => n + parameterCount(p), 0)], params[0]![0]!.value.dtype) as F32;
      let at = 0;
      experts.forEach((e, j) => {
        if (replicas[e]![0] !== me) packParameters(params[j]!, 'grad', grads, at);
        at += parameterCount(params[j]!);
      });
      const sum = await collectives.allReduce(grads, group);
      at = 0;
      experts.forEach((e, j) => {
        if (replicas[e]![0] === me) unpackParameters(params[j]!, sum, 'grad', at);
        at += parameterCount(params[j]!);
      });
    }
  }
}

/**
 * How many of source `s`'s `n` assignments to an expert held by `replicas` go to device `d`: all of
 * them to `s` itself when it holds a replica, otherwise contiguous blocks, the i-th replica taking
 * [⌊i·n/r⌋, ⌊(i+1)·n/r⌋). The sender splits by the same rule, so a receiver needs only `n`.
 */
export function shareOf(n: number, replicas: readonly number[], s: number, d: number): number {
  if (replicas.includes(s)) return s === d ? n : 0;
  const i = replicas.indexOf(d);
  if (i < 0) return 0;
  const r = replicas.length;
  return Math.floor(((i + 1) * n) / r) - Math.floor((i * n) / r);
}

/**
 * The shadowed experts whose weights travel between the same devices, with this device among them,
 * grouped so that each group costs one collective (each one a synchronisation of its members, as in
 * the replicas' gradient buckets, train/grad-sync.ts); groups in order of their first expert.
 */
export function shadowBuckets(shadows: readonly number[], replicas: readonly (readonly number[])[], devices: number, me: number): { group: number[]; experts: number[] }[] {
  const buckets = new Map<string, { group: number[]; experts: number[] }>();
  for (const e of shadows) {
    const group = shadowGroup(replicas[e]!, devices);
    if (group.length < 2 || !group.includes(me)) continue;
    const key = group.join(',');
    const b = buckets.get(key) ?? { group, experts: [] };
    b.experts.push(e);
    buckets.set(key, b);
  }
  return [...buckets.values()];
}

export function parameterCount(params: readonly Parameter[]): number {
  let n = 0;
  for (const p of params) n += p.value.size;
  return n;
}

/**
 * The parameters' values (or gradients) end to end, written into `into` from `at` (a new tensor of
 * the parameters' dtype when absent). Returns the tensor.
 */
export function packParameters(params: readonly Parameter[], part: 'value' | 'grad', into?: F32, at = 0): F32 {
  const out = into ?? (Tensor.empty([parameterCount(params)], params[0]!.value.dtype) as F32);
  for (const p of params) {
    out.data.set(p[part].data, at);
    at += p.value.size;
  }
  return out;
}

/** Copies a packed tensor, from `at`, into the parameters' values, or adds it to their gradients. */
export function unpackParameters(params: readonly Parameter[], packed: F32, part: 'value' | 'grad', at = 0): void {
  for (const p of params) {
    const dst = p[part].data, src = packed.data;
    if (part === 'value') dst.set(src.subarray(at, at + dst.length));
    else for (let i = 0; i < dst.length; i++) dst[i]! += src[at + i]!;
    at += dst.length;
  }
}
