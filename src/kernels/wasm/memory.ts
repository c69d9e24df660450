import type { F32 } from '../../tensor/tensor.js';
import { Tensor } from '../../tensor/tensor.js';
import { simdWasm } from './simd-module.js';
import { simdModule, Wasm, WASM_PAGE as PAGE, type WasmMemory } from './globals.js';

type Fn = (...args: number[]) => number;
/** The most the module's memory may grow to (4 GiB of address space, committed only as used). */
const MAX_PAGES = 65536;

/**
 * One instance of the kernel module (simd/*.ts, AssemblyScript compiled by scripts/build-wasm.ts)
 * and its linear memory, which is shared memory so that growing it never detaches a view.
 *
 * Two regions: at the bottom, **resident** tensors (parameters, optimizer moments) that live in the
 * module's memory for good, so kernels read and update them in place; above them, the **scratch**
 * of one kernel call, laid out from its bottom each call (`begin`), where other operands are copied
 * in and results computed before they are copied out. A device is one thread: one call at a time.
 */
export class WasmModule {
  readonly fn: Record<string, Fn>;
  private readonly memory: WasmMemory;
  /** Every SharedArrayBuffer object the memory has handed out (a new one after each growth). */
  private readonly buffers = new WeakSet<SharedArrayBuffer>();
  private f32View!: Float32Array;
  private i32View!: Int32Array;
  private residentTop: number;
  private top = 0;
  /** Recycled resident regions by size class (bytes → addresses). */
  private readonly free = new Map<number, number[]>();
  private readonly reclaim = new FinalizationRegistry<[number, number]>(([at, bytes]) => {
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(at);
  });

  constructor() {
    this.memory = new Wasm.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
    const instance = new Wasm.Instance(simdModule(), { env: { memory: this.memory } });
    this.fn = instance.exports as Record<string, Fn>;
    this.residentTop = this.fn.heapBase!();
    this.views();
  }

  /** True where the engine runs WebAssembly SIMD (and shared memory). */
  static supported(): boolean {
    try {
      return Wasm.validate(Buffer.from(simdWasm, 'base64')) && typeof SharedArrayBuffer === 'function';
    } catch {
      return false;
    }
  }

  /**
   * `t`'s values in resident memory: a tensor the kernels read (and AdamW updates) in place. Its
   * region is recycled once the tensor is garbage. Float32 only; other tensors come back as they are.
   */
  resident(t: F32): F32 {
    if (t.dtype !== 'f32' || this.isResident(t.data)) return t;
    const bytes = Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(1, t.size * 4))));
    let at = this.free.get(bytes)?.pop();
    if (at === undefined) {
      at = this.residentTop;
      this.residentTop += bytes;
      this.ensure(this.residentTop);
    }
    const view = Tensor.view(this.memory.buffer, at, t.shape, 'f32') as F32;
    view.data.set(t.data);
    this.reclaim.register(view.data, [at, bytes]);
    return view;
  }

  /** Fills `t` with zeros: in the module for a resident tensor, else with the typed array's fill. */
  zero(t: F32): void {
    if (this.isResident(t.data)) this.fn.zero!(t.data.byteOffset, t.size);
    else t.data.fill(0);
  }

  isResident(data: ArrayBufferView): boolean {
    return this.buffers.has(data.buffer as SharedArrayBuffer);
  }

  /** Starts a kernel call's scratch at its bottom. */
  begin(): void {
    this.top = this.residentTop;
  }

  /** The byte address of `data` for a kernel: in place if resident, else copied into scratch. */
  input(data: Float32Array | Int32Array): number {
    if (this.isResident(data)) return data.byteOffset;
    const at = this.space(data.length);
    if (data instanceof Int32Array) this.i32View.set(data, at >> 2);
    else this.f32View.set(data, at >> 2);
    return at;
  }

  /** Scratch for `n` floats (or int32s), rounded up to whole 16-byte vectors. */
  space(n: number): number {
    const at = this.top;
    this.top += (n * 4 + 15) & ~15;
    this.ensure(this.top);
    return at;
  }

  /** n floats at byte address `at` (a view: copy before the next call). */
  f32(at: number, n: number): Float32Array {
    return this.f32View.subarray(at >> 2, (at >> 2) + n);
  }

  /** Copies rows of `cols` floats, `stride` floats apart in memory, into dense `out`. */
  getRows(at: number, rows: number, cols: number, stride: number, out: Float32Array): void {
    if (stride === cols) return out.set(this.f32(at, rows * cols));
    for (let r = 0; r < rows; r++) out.set(this.f32(at + r * stride * 4, cols), r * cols);
  }

  /** Dense rows of `cols` floats as rows `stride` floats apart, zero-padded; in place when no padding is needed. */
  inputRows(data: Float32Array, rows: number, cols: number, stride: number): number {
    if (stride === cols) return this.input(data.subarray(0, rows * cols));
    const at = this.space(rows * stride), m = this.f32View, base = at >> 2;
    for (let r = 0; r < rows; r++) {
      m.set(data.subarray(r * cols, r * cols + cols), base + r * stride);
      m.fill(0, base + r * stride + cols, base + (r + 1) * stride);
    }
    return at;
  }

  private ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) {
      this.memory.grow(Math.ceil((bytes - have) / PAGE));
      this.views();
    }
  }

  private views(): void {
    const buffer = this.memory.buffer;
    this.buffers.add(buffer);
    this.f32View = new Float32Array(buffer);
    this.i32View = new Int32Array(buffer);
  }
}
