import { errors } from '../errors.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import { simdModule, Wasm, WASM_PAGE as PAGE, type WasmMemory } from '../kernels/wasm/globals.js';
import { copyBytes } from './copy.js';
import { spinIterations } from './spin.js';

/** Below this the kernel module keeps its static data (its heap base is checked against it). */
const RESERVED = PAGE;
/** Default bytes of each device's reduce region (a larger vector is reduced in chunks of this). */
export const REDUCE_REGION_BYTES = 8 << 20;

/**
 * What every device shares for all-reduces over shared memory: one WebAssembly memory holding a
 * region per device, and a D × D table of signal counters (`control[from * D + to]`).
 */
export interface ReduceShared {
  memory: WasmMemory;
  control: SharedArrayBuffer;
  regionBytes: number;
}

export function makeReduceShared(devices: number, regionBytes = REDUCE_REGION_BYTES): ReduceShared {
  const region = Math.ceil(regionBytes / 64) * 64;
  const pages = Math.ceil((RESERVED + devices * region) / PAGE);
  return { memory: new Wasm.Memory({ initial: pages, maximum: pages, shared: true }), control: new SharedArrayBuffer(4 * devices * devices), regionBytes: region };
}

/** Zeroes the counters to and from `device` (it is being rebuilt; its peers reset their side too). */
export function resetReduceSignals(shared: ReduceShared, devices: number, device: number): void {
  const c = new Int32Array(shared.control);
  for (let d = 0; d < devices; d++) {
    Atomics.store(c, device * devices + d, 0);
    Atomics.store(c, d * devices + device, 0);
  }
}

/** Where part of an all-reduce's sum goes: `dst` gets the sum's values from index `from` on. */
export interface Sink {
  dst: Float32Array;
  from: number;
}

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * An all-reduce in which devices read each other's memory instead of sending it (issue: the ring
 * all-reduce copied every byte into a ring and out again). Each member copies its vector into its
 * own region, sums one slice of everyone's regions in place in ascending device order (with the
 * SIMD kernel module instantiated on the shared memory), and copies the other members' summed
 * slices out of their regions. Members meet at three barriers per chunk, made of per-pair signal
 * counters: a pair's shared all-reduces happen in the same order on both (the collectives'
 * contract), so the n-th signal from a peer is always the one this call waits for.
 */
export class SharedReduce {
  private readonly add: (pa: number, pb: number, po: number, n: number) => void;
  private readonly f32: Float32Array;
  private readonly bytes: Uint8Array;
  private readonly control: Int32Array;
  /** Signals consumed from each peer so far, and each peer's incarnation as this device knows it. */
  private readonly consumed: number[];
  private readonly generation: number[];
  readonly regionFloats: number;
  /** One shared all-reduce at a time on this device: they all use its one region. */
  private lock: Promise<unknown> = Promise.resolve();

  constructor(private readonly shared: ReduceShared, readonly device: number, readonly devices: number) {
    const instance = new Wasm.Instance(simdModule(), { env: { memory: shared.memory } });
    const heapBase = (instance.exports.heapBase as () => number)();
    if (heapBase > RESERVED) throw errors.collective(`shared all-reduce: the kernel module's static data (${heapBase} bytes) exceeds the ${RESERVED} reserved`);
    this.add = instance.exports.add as SharedReduce['add'];
    this.f32 = new Float32Array(shared.memory.buffer);
    this.bytes = new Uint8Array(shared.memory.buffer);
    this.control = new Int32Array(shared.control);
    this.consumed = new Array(devices).fill(0);
    this.generation = new Array(devices).fill(0);
    this.regionFloats = shared.regionBytes / 4;
  }

  private regionAt(d: number): number {
    return RESERVED + d * this.shared.regionBytes;
  }

  /**
   * A vector of `n` floats in this device's region, or null when it does not fit: fill it and
   * all-reduce it to skip the copy in. Valid until the next shared all-reduce on this device.
   */
  staging(n: number): F32 | null {
    if (n > this.regionFloats) return null;
    const at = this.regionAt(this.device) / 4;
    return new Tensor('f32', [n], this.f32.subarray(at, at + n)) as F32;
  }

  /**
   * The first `n` floats of device `d`'s region, or null when they do not fit. Only for measuring:
   * copying a peer's freshly written region is the least any all-reduce must pay here (each
   * member receives the other members' share of the vector across cores), a floor to judge it by.
   */
  regionView(d: number, n: number): Float32Array | null {
    if (n > this.regionFloats || d < 0 || d >= this.devices) return null;
    const at = this.regionAt(d) / 4;
    return this.f32.subarray(at, at + n);
  }

  /** `peer` was rebuilt: its counters start again from zero, and calls waiting on the old one fail. */
  peerRestarted(peer: number): void {
    this.generation[peer]!++;
    this.consumed[peer] = 0;
    Atomics.store(this.control, this.device * this.devices + peer, 0);
  }

  /** Every signal this device sent and counted starts again from zero (its peers do the same at the same idle point). */
  reset(): void {
    for (let p = 0; p < this.devices; p++) {
      this.consumed[p] = 0;
      this.generation[p]!++;
      Atomics.store(this.control, this.device * this.devices + p, 0);
    }
  }

  /**
   * Sums `x` over `group` (ascending, containing this device) in place; bit-identical on every
   * member. With `sinks`, the sum goes there instead of back into `x`: each sink gets the sum's
   * values from `from` on, read straight from the member regions that hold them. That is how a
   * staged vector ends: writing the others' sums back into this device's region would take cache
   * lines the others have just read; private destinations do not.
   */
  allReduce(x: F32, group: readonly number[], sinks?: Sink[]): Promise<F32> {
    const run = this.lock.then(() => this.run(x, group, sinks));
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async run(x: F32, g: readonly number[], sinks?: Sink[]): Promise<F32> {
    const gens = g.map((d) => this.generation[d]!);
    const n = g.length, me = g.indexOf(this.device), mine = this.regionAt(this.device);
    const staged = x.data.buffer === this.f32.buffer && x.data.byteOffset === mine;
    for (let start = 0; start < x.size; start += this.regionFloats) {
      const len = Math.min(this.regionFloats, x.size - start);
      // Slices start on whole 4-float vectors: the kernel writes whole vectors, and only the last
      // slice may end mid-vector, where its spill lands past `len` in this member's own region.
      const at = (i: number) => Math.floor((i * len) / n) & ~3;
      const lo = (i: number) => (i === 0 ? 0 : at(i)), hi = (i: number) => (i === n - 1 ? len : at(i + 1));
      if (!staged) copyBytes(this.bytes, bytesOf(x.data.subarray(start, start + len)), mine);
      await this.barrier(g, gens);
      // This member's slice: every region's slice summed in ascending device order, ending in its own
      // region. The running sum lives in the first member's region, whose copy of this slice only this
      // member reads: writing it into this member's own region early would overwrite a part not yet added.
      const a = lo(me), b = hi(me), bytes = a * 4, count = b - a;
      if (count > 0) {
        const acc = this.regionAt(g[0]!) + bytes;
        for (let i = 1; i < n; i++) this.add(acc, this.regionAt(g[i]!) + bytes, i === n - 1 ? mine + bytes : acc, count);
      }
      await this.barrier(g, gens);
      if (sinks) {
        // Each sink's part of this chunk, from the members' regions that hold it.
        for (let i = 0; i < n; i++) {
          const from = this.regionAt(g[i]!) / 4, s0 = start + lo(i), s1 = start + hi(i);
          for (const k of sinks) {
            const a0 = Math.max(s0, k.from), a1 = Math.min(s1, k.from + k.dst.length);
            if (a1 > a0) copyBytes(bytesOf(k.dst.subarray(a0 - k.from, a1 - k.from)), bytesOf(this.f32.subarray(from + (a0 - start), from + (a1 - start))));
          }
        }
        await this.barrier(g, gens);
        continue;
      }
      for (let i = 0; i < n; i++) {
        const from = this.regionAt(g[i]!) / 4;
        if (i === me && staged) continue; // already in place
        copyBytes(bytesOf(x.data.subarray(start + lo(i), start + hi(i))), bytesOf(this.f32.subarray(from + lo(i), from + hi(i))));
      }
      // Nobody may write its region again until every member has read what it needs from it.
      await this.barrier(g, gens);
    }
    return x;
  }

  private signal(peer: number): void {
    const i = this.device * this.devices + peer;
    Atomics.add(this.control, i, 1);
    Atomics.notify(this.control, i);
  }

  /** Signals every other member, then waits for each one's matching signal. */
  private async barrier(g: readonly number[], gens: readonly number[]): Promise<void> {
    for (const d of g) if (d !== this.device) this.signal(d);
    for (let k = 0; k < g.length; k++) {
      const d = g[k]!;
      if (d === this.device) continue;
      const want = ++this.consumed[d]!;
      const i = d * this.devices + this.device;
      let spins = spinIterations;
      while (Atomics.load(this.control, i) < want) {
        if (this.generation[d] !== gens[k]) throw errors.collective(`all-reduce: device ${d} restarted during the call; its part is lost`);
        if (spins-- > 0) continue;
        const seen = Atomics.load(this.control, i);
        if (seen >= want) break;
        const r = Atomics.waitAsync(this.control, i, seen, 100);
        if (r.async) await r.value;
        else await new Promise((res) => setImmediate(res));
      }
    }
  }
}
