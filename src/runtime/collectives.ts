import { errors } from '../errors.js';
import type { Tensor, F32 } from '../tensor/tensor.js';
import type { DeviceChannels } from './channels.js';

/**
 * Collectives over the shared-memory channels. Every participant calls the same collectives in
 * the same order; each call takes the next tag of its group, so concurrent groups never mix.
 * Reductions sum in ascending device order, so every member gets bit-identical results whatever
 * the arrival order.
 */
export class Collectives {
  private readonly counters = new Map<string, number>();

  constructor(private readonly channels: DeviceChannels, readonly device: number, readonly devices: number) {}

  private tag(group: readonly number[], explicit?: number): number {
    if (explicit !== undefined) return explicit;
    const key = group.join(',');
    const n = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, n);
    // Auto tags live above 2^24; explicit tags below it.
    return (1 << 24) + ((hash(key) & 0x3f) << 18) + (n & 0x3ffff);
  }

  private checkGroup(group: readonly number[], op: string): number[] {
    const g = [...group].sort((a, b) => a - b);
    if (!g.includes(this.device)) throw errors.collective(`${op}: device ${this.device} is not in group [${g.join(',')}]`);
    if (new Set(g).size !== g.length || g.some((d) => d < 0 || d >= this.devices)) throw errors.collective(`${op}: bad group [${group.join(',')}]`);
    return g;
  }

  private all(): number[] {
    return [...Array(this.devices).keys()];
  }

  /**
   * Variable-size all-to-all (MoE dispatch and combine): `parts[i]` goes to the i-th device of the
   * group; returns what each group member sent here, in group order. Empty parts are fine.
   */
  async allToAll(parts: readonly Tensor[], group: readonly number[] = this.all(), tag?: number): Promise<Tensor[]> {
    const g = this.checkGroup(group, 'allToAll');
    if (parts.length !== g.length) throw errors.collective(`allToAll: ${parts.length} parts for a group of ${g.length}`);
    const t = this.tag(g, tag);
    const sends = g.map((d, i) => (d === this.device ? Promise.resolve() : this.channels.send(d, t, parts[i]!)));
    const received = await Promise.all(g.map((d, i) => (d === this.device ? Promise.resolve(parts[i]!) : this.channels.recv(d, t))));
    await Promise.all(sends);
    return received;
  }

  /**
   * Sums `x` over the group, in place (as NCCL and torch.distributed do), and returns it. Every
   * member adds the parts in ascending device order, so all get bit-identical float32 results.
   * Scratch and received buffers are pooled: fresh pages fault, and gradients all-reduce every step.
   */
  async allReduce(x: F32, group: readonly number[] = this.all(), tag?: number): Promise<F32> {
    const g = this.checkGroup(group, 'allReduce');
    if (g.length === 1) return x;
    const all = await this.allToAll(g.map(() => x), g, tag);
    const acc = this.channels.pool.alloc(x.shape, 'f32') as F32;
    const o = acc.data;
    for (const part of all) {
      if (part.size !== x.size) throw errors.collective(`allReduce: member sent ${part} but this device has ${x}`);
      const d = part.data;
      for (let i = 0; i < o.length; i++) o[i]! += d[i]!;
      if (part !== x) this.channels.recycle(part);
    }
    x.data.set(o);
    this.channels.pool.release(acc);
    return x;
  }

  /** `root`'s tensor on every member (others pass null). */
  async broadcast(x: Tensor | null, root: number, group: readonly number[] = this.all(), tag?: number): Promise<Tensor> {
    const g = this.checkGroup(group, 'broadcast');
    const t = this.tag(g, tag);
    if (this.device === root) {
      if (!x) throw errors.collective('broadcast: the root must pass a tensor');
      await Promise.all(g.filter((d) => d !== root).map((d) => this.channels.send(d, t, x)));
      return x;
    }
    return this.channels.recv(root, t);
  }
}

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
