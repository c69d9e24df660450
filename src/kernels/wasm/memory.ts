import { simdWasm } from './simd-module.js';

// The WebAssembly global as this file uses it (the TypeScript DOM lib is not loaded).
interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}
const Wasm = (globalThis as unknown as {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object) => { exports: Record<string, unknown> };
    validate(bytes: Uint8Array): boolean;
  };
}).WebAssembly;

type Fn = (...args: number[]) => number;

/**
 * One instance of the kernel module (simd/*.ts, AssemblyScript compiled by scripts/build-wasm.ts)
 * and its linear memory. A kernel call lays its operands out from the bottom of the free memory
 * each time (`frame`), copies inputs in, runs, and copies results out: tensors live in JavaScript
 * typed arrays, and a device is one thread, so one frame is live at a time.
 */
export class WasmModule {
  readonly fn: Record<string, Fn>;
  private readonly memory: WasmMemory;
  private readonly base: number;
  private f32View: Float32Array;
  private i32View: Int32Array;

  constructor() {
    const instance = new Wasm.Instance(new Wasm.Module(Buffer.from(simdWasm, 'base64')));
    this.fn = instance.exports as Record<string, Fn>;
    this.memory = instance.exports.memory as WasmMemory;
    this.base = this.fn.heapBase!();
    this.f32View = new Float32Array(this.memory.buffer);
    this.i32View = new Int32Array(this.memory.buffer);
  }

  /** True where the engine runs WebAssembly SIMD. */
  static supported(): boolean {
    try {
      return Wasm.validate(Buffer.from(simdWasm, 'base64'));
    } catch {
      return false;
    }
  }

  /**
   * Byte addresses for regions of the given float (or int32) counts, each rounded up to whole
   * 16-byte vectors, memory grown to hold them all. Earlier frames' addresses are invalid after.
   */
  frame(...counts: number[]): number[] {
    let top = this.base;
    const at = counts.map((n) => {
      const p = top;
      top += (n * 4 + 15) & ~15;
      return p;
    });
    const have = this.memory.buffer.byteLength;
    if (top > have) {
      this.memory.grow(Math.ceil((top - have) / 65536));
      this.f32View = new Float32Array(this.memory.buffer);
      this.i32View = new Int32Array(this.memory.buffer);
    }
    return at;
  }

  /** Copies `data` to byte address `at`. */
  put(at: number, data: Float32Array | Int32Array): void {
    if (data instanceof Int32Array) this.i32View.set(data, at >> 2);
    else this.f32View.set(data, at >> 2);
  }

  /** n floats at byte address `at` (a view: copy before the next frame). */
  f32(at: number, n: number): Float32Array {
    return this.f32View.subarray(at >> 2, (at >> 2) + n);
  }

  /** Copies rows of `cols` floats, `stride` floats apart in memory, into dense `out`. */
  getRows(at: number, rows: number, cols: number, stride: number, out: Float32Array): void {
    if (stride === cols) return out.set(this.f32(at, rows * cols));
    for (let r = 0; r < rows; r++) out.set(this.f32(at + r * stride * 4, cols), r * cols);
  }

  /** Copies dense rows of `cols` floats into memory `stride` floats apart, zeroing the padding. */
  putRows(at: number, data: Float32Array, rows: number, cols: number, stride: number): void {
    if (stride === cols) return this.put(at, data.subarray(0, rows * cols));
    const m = this.f32View, base = at >> 2;
    for (let r = 0; r < rows; r++) {
      m.set(data.subarray(r * cols, r * cols + cols), base + r * stride);
      m.fill(0, base + r * stride + cols, base + (r + 1) * stride);
    }
  }
}
