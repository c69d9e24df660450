import { errors } from '../errors.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import type { DeviceChannels } from './channels.js';
import type { SharedReduce, Sink } from './shared-reduce.js';

/**
 * Collectives over the shared-memory channels. Every participant calls the same collectives in
 * the same order; each call takes the next tag of its group, so concurrent groups never mix.
 * Reductions sum in ascending device order, so every member gets bit-identical results whatever
 * the arrival order.
 */
export class Collectives {
  private readonly counters = new Map<string, number>();
  /**
   * Milliseconds spent inside exchanges so far (all-to-alls and broadcasts, the all-reduce's
   * included): moving data and waiting for peers. A step's share shows how much of it is not compute.
   */
  exchangeMs = 0;

  constructor(
    private readonly channels: DeviceChannels,
    readonly device: number,
    readonly devices: number,
    private readonly shared?: SharedReduce,
    /** Whether a group's devices share this device's memory (on one host); across hosts, reductions go over the channels. */
    private readonly sameMemory: (group: readonly number[]) => boolean = () => true,
  ) {}

  /**
   * A vector of `n` floats already in this device's shared all-reduce region (null when it does not
   * fit, or there is no such region): fill it and pass it to `allReduce` to skip copying it in. It
   * is valid until this device's next all-reduce.
   */
  staging(n: number): F32 | null {
    return n >= SPLIT_FLOATS ? (this.shared?.staging(n) ?? null) : null;
  }

  /** The most floats `staging` holds (0 without a shared region). */
  get stagingFloats(): number {
    return this.shared?.regionFloats ?? 0;
  }

  /** Device `d`'s shared all-reduce region as a view of `n` floats (null without one): for the all-reduce probe's floor. */
  regionView(d: number, n: number): Float32Array | null {
    return this.shared?.regionView(d, n) ?? null;
  }

  /**
   * Starts a new epoch of collectives, on every device at once, when none is in flight (after a
   * crash, before training goes on): the calls cut short by it left tag counters, arrived parts and
   * shared-memory signals that no longer pair up between devices. Everything of the old epoch is
   * dropped and counting starts again.
   */
  reset(): void {
    this.counters.clear();
    this.channels.drop((tag) => tag >= AUTO_TAG, errors.collective(`device ${this.device}: the collectives were reset (a device was rebuilt)`));
    this.shared?.reset();
  }

  /** A peer device was rebuilt: calls waiting on its old incarnation fail, and its signals restart. */
  peerRestarted(peer: number): void {
    this.shared?.peerRestarted(peer);
  }

  /**
   * Gives a tensor received from an exchange back to the channel pool once it is no longer needed
   * (local parts, which never left this device, are ignored). Reused storage does not page-fault,
   * and a layer exchanging every step would otherwise make fresh buffers every step.
   */
  release(t: Tensor): void {
    this.channels.recycle(t);
  }

  private tag(group: readonly number[], explicit?: number): number {
    if (explicit !== undefined) return explicit;
    const key = group.join(',');
    const n = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, n);
    // Auto tags live above 2^24; explicit tags below it.
    return AUTO_TAG + ((hash(key) & 0x3f) << 18) + (n & 0x3ffff);
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
    const t0 = performance.now();
    try {
      const sends = g.map((d, i) => (d === this.device ? Promise.resolve() : this.channels.send(d, t, parts[i]!)));
      const received = await Promise.all(g.map((d, i) => (d === this.device ? Promise.resolve(parts[i]!) : this.channels.recv(d, t))));
      await Promise.all(sends);
      return received;
    } finally {
      this.exchangeMs += performance.now() - t0;
    }
  }

  /**
   * Sums `x` over the group, in place (as NCCL and torch.distributed do), and returns it: a
   * reduce-scatter (member i sums everyone's i-th slice) then an all-gather of the sums, so each
   * device adds 1/n of the vector instead of all of it. Large vectors are reduced over shared
   * memory, each member reading the others' regions (shared-reduce.ts); without that region, and
   * with an explicit tag, over the channels. Each slice is summed by one member, adding the parts in
   * ascending device order, so every member gets bit-identical float32 results.
   *
   * Every member of a pair of devices must make the large all-reduces they share in the same order
   * (one region per device serves them one at a time).
   */
  async allReduce(x: F32, group: readonly number[] = this.all(), tag?: number): Promise<F32> {
    return this.reduce(x, group, tag);
  }

  /**
   * All-reduces `x` and writes the sum into `sinks` (each `dst` gets the sum from index `from` on)
   * instead of back into `x`: how the gradient sync ends, unflattening straight from the members'
   * shared regions. Sinks must cover only what the caller needs; `x` is left as the path leaves it.
   */
  async allReduceInto(x: F32, sinks: Sink[], group: readonly number[] = this.all()): Promise<void> {
    const g = this.checkGroup(group, 'allReduce');
    if (g.length > 1 && x.size >= SPLIT_FLOATS && this.shared && this.sameMemory(g)) {
      const t0 = performance.now();
      try {
        await this.shared.allReduce(x, g, sinks);
      } finally {
        this.exchangeMs += performance.now() - t0;
      }
      return;
    }
    await this.reduce(x, g);
    for (const k of sinks) k.dst.set(x.data.subarray(k.from, k.from + k.dst.length));
  }

  private async reduce(x: F32, group: readonly number[], tag?: number): Promise<F32> {
    const g = this.checkGroup(group, 'allReduce');
    if (g.length === 1) return x;
    const n = g.length, me = g.indexOf(this.device), len = x.size;
    // Small vectors: one exchange of whole vectors beats two rounds (a round costs a synchronisation).
    if (len < SPLIT_FLOATS) return this.allReduceWhole(x, g, tag);
    if (this.shared && tag === undefined && this.sameMemory(g)) {
      const t0 = performance.now();
      try {
        return await this.shared.allReduce(x, g);
      } finally {
        this.exchangeMs += performance.now() - t0;
      }
    }
    const at = (i: number) => Math.floor((i * len) / n);
    const slice = (i: number) => new Tensor('f32', [at(i + 1) - at(i)], x.data.subarray(at(i), at(i + 1))) as F32;
    const parts = await this.allToAll(g.map((_, i) => slice(i)), g, tag);
    const mine = slice(me);
    for (const part of parts) if (part.size !== mine.size) throw errors.collective(`allReduce: member sent ${part} but this device's slice is ${mine} (of ${x})`);
    // Summed into scratch first: `mine` is one of the parts, and its turn in the order may not be first.
    const acc = this.channels.pool.alloc(mine.shape, 'f32', false) as F32;
    const o = sumInOrder(acc.data, parts);
    for (const part of parts) if (part !== parts[me]) this.channels.recycle(part);
    mine.data.set(o);
    this.channels.pool.release(acc);
    const sums = await this.allToAll(g.map(() => mine), g);
    sums.forEach((t, i) => {
      if (i === me) return;
      if (t.size !== at(i + 1) - at(i)) throw errors.collective(`allReduce: member ${g[i]} sent a sum of ${t.size} values for a slice of ${at(i + 1) - at(i)}`);
      x.data.set(t.data, at(i));
      this.channels.recycle(t);
    });
    return x;
  }

  /** Every member receives every whole vector and sums them all, in ascending device order. */
  private async allReduceWhole(x: F32, g: number[], tag?: number): Promise<F32> {
    const all = await this.allToAll(g.map(() => x), g, tag);
    for (const part of all) if (part.size !== x.size) throw errors.collective(`allReduce: member sent ${part} but this device has ${x}`);
    const acc = this.channels.pool.alloc(x.shape, 'f32', false) as F32;
    const o = sumInOrder(acc.data, all);
    for (const part of all) if (part !== x) this.channels.recycle(part);
    x.data.set(o);
    this.channels.pool.release(acc);
    return x;
  }

  /** `root`'s tensor on every member (others pass null). */
  async broadcast(x: Tensor | null, root: number, group: readonly number[] = this.all(), tag?: number): Promise<Tensor> {
    const g = this.checkGroup(group, 'broadcast');
    const t = this.tag(g, tag);
    const t0 = performance.now();
    try {
      if (this.device === root) {
        if (!x) throw errors.collective('broadcast: the root must pass a tensor');
        await Promise.all(g.filter((d) => d !== root).map((d) => this.channels.send(d, t, x)));
        return x;
      }
      return await this.channels.recv(root, t);
    } finally {
      this.exchangeMs += performance.now() - t0;
    }
  }
}

/** out = parts[0] + parts[1] + …, added in this (ascending device) order: the same bits on every member. */
function sumInOrder(out: Float32Array, parts: readonly Tensor[]): Float32Array {
  out.set(parts[0]!.data);
  for (let p = 1; p < parts.length; p++) {
    const d = parts[p]!.data;
    for (let i = 0; i < out.length; i++) out[i]! += d[i]!;
  }
  return out;
}

/**
 * Below this many floats an all-reduce exchanges whole vectors in one round; above it, it splits
 * (reduce-scatter + all-gather). Measured on 2 devices: 128 KiB 0.14 vs 0.25 ms, 256 KiB 0.25 vs
 * 0.23 ms, 4 MiB 3.1 vs 2.0 ms (whole vs split).
 */
export const SPLIT_FLOATS = 1 << 16;

/** Tags from here up are counted per group (`tag`); explicit tags stay below. */
const AUTO_TAG = 1 << 24;

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
