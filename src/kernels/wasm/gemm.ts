import { Tensor, type F32 } from '../../tensor/tensor.js';
import type { MatmulForm } from '../types.js';
import { matmulShape } from '../shapes.js';
import { gemmWasm } from './gemm-module.js';

type GemmFn = (pa: number, pb: number, pc: number, M: number, K: number, N: number, panel: number, ldb: number) => void;
type GeluFn = (px: number, po: number, n: number) => void;
type GeluBackwardFn = (px: number, pd: number, po: number, n: number) => void;
type BiasAddFn = (px: number, pb: number, po: number, rows: number, cols: number) => void;

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

/**
 * The three expert matmul forms on a WebAssembly SIMD micro-kernel (gemm.wat: 4×8 register tile).
 * Operands are copied into the module's memory (one instance per backend, grown as needed): A
 * row-major with rows padded to a multiple of 4; B row-major with columns padded to 8 when it is
 * already [K,N] (nn, tn), otherwise packed into 8-column panels while transposing (nt). Xᵀ (tn) is
 * transposed on the way in. Single-threaded by design: a device is one thread.
 */
export class WasmGemm {
  private readonly memory: WasmMemory;
  private readonly gemm: GemmFn;
  private readonly geluFn: GeluFn;
  private readonly geluBackwardFn: GeluBackwardFn;
  private readonly biasAddFn: BiasAddFn;

  constructor() {
    const instance = new Wasm.Instance(new Wasm.Module(Buffer.from(gemmWasm, 'base64')));
    this.memory = instance.exports.memory as WasmMemory;
    this.gemm = instance.exports.gemm as GemmFn;
    this.geluFn = instance.exports.gelu as GeluFn;
    this.geluBackwardFn = instance.exports.geluBackward as GeluBackwardFn;
    this.biasAddFn = instance.exports.biasAdd as BiasAddFn;
  }

  /**
   * x + bias on every row, four lanes at a time, in place in the module's memory: float32 [R, C]
   * with C a multiple of 4 (the caller checks). A float32 sum is correctly rounded either way, so
   * the result equals the loop's.
   */
  biasAdd(x: F32, bias: F32): F32 {
    const R = x.rows, C = x.cols, n = R * C;
    const out = Tensor.empty(x.shape) as F32;
    if (n === 0) return out;
    const mem = this.reserve((n + C) * 4);
    mem.set(x.data as Float32Array, 0);
    mem.set(bias.data as Float32Array, n);
    this.biasAddFn(0, n * 4, 0, R, C);
    out.data.set(mem.subarray(0, n));
    return out;
  }

  /**
   * GELU (tanh form) four lanes at a time, in float32 (gemm.wat: the same rational tanh as the
   * loop in elementwise.ts).
   */
  gelu(x: F32): F32 {
    return this.lanes([x], (at, out, n4) => this.geluFn(at[0]!, out, n4));
  }

  /** dx = dy·GELU'(x), as `gelu`. */
  geluBackward(x: F32, dy: F32): F32 {
    return this.lanes([x, dy], (at, out, n4) => this.geluBackwardFn(at[0]!, at[1]!, out, n4));
  }

  /** Copies same-sized inputs into memory, each padded to a multiple of 4, runs `fn`, copies the result out. */
  private lanes(inputs: F32[], fn: (at: number[], out: number, n4: number) => void): F32 {
    const n = inputs[0]!.size, n4 = (n + 3) & ~3;
    const out = Tensor.empty(inputs[0]!.shape) as F32;
    if (n === 0) return out;
    const mem = this.reserve(n4 * 4 * (inputs.length + 1));
    inputs.forEach((t, i) => {
      mem.set(t.data as Float32Array, i * n4);
      mem.fill(0, i * n4 + n, (i + 1) * n4);
    });
    const outAt = inputs.length * n4 * 4;
    fn(inputs.map((_, i) => i * n4 * 4), outAt, n4);
    out.data.set(new Float32Array(this.memory.buffer, outAt, n));
    return out;
  }

  /** True where the engine runs WebAssembly SIMD. */
  static supported(): boolean {
    try {
      return Wasm.validate(Buffer.from(gemmWasm, 'base64'));
    } catch {
      return false;
    }
  }

  private reserve(bytes: number): Float32Array {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / 65536));
    return new Float32Array(this.memory.buffer);
  }

  matmul(a: F32, b: F32, form: MatmulForm): F32 {
    const { M, K, N } = matmulShape(a, b, form);
    if (M === 0 || N === 0 || K === 0) return Tensor.zeros([M, N]) as F32;
    const out = Tensor.empty([M, N]) as F32; // every element is copied out of the wasm result below
    const M4 = (M + 3) & ~3, N8 = (N + 7) & ~7;
    const aOff = 0, bOff = M4 * K, cOff = bOff + N8 * K;
    const mem = this.reserve((cOff + M4 * N8) * 4);
    const A = a.data as Float32Array, B = b.data as Float32Array;
    // A: [M4, K] row-major
    if (form === 'tn') {
      for (let k = 0; k < K; k++) for (let i = 0; i < M; i++) mem[aOff + i * K + k] = A[k * M + i]!;
    } else mem.set(A.subarray(0, M * K), aOff);
    mem.fill(0, aOff + M * K, aOff + M4 * K);
    let panel: number, ldb: number;
    if (form === 'nt') {
      // b is [N, K]: pack Bᵀ into [N8/8][K][8] panels
      for (let p = 0; p < N8 / 8; p++) {
        const base = bOff + p * K * 8;
        for (let l = 0; l < 8; l++) {
          const n = p * 8 + l;
          if (n < N) for (let k = 0; k < K; k++) mem[base + k * 8 + l] = B[n * K + k]!;
          else for (let k = 0; k < K; k++) mem[base + k * 8 + l] = 0;
        }
      }
      panel = K * 32;
      ldb = 32;
    } else {
      // b is [K, N]: row-major, columns padded to N8
      if (N8 === N) mem.set(B.subarray(0, K * N), bOff);
      else for (let k = 0; k < K; k++) {
        mem.set(B.subarray(k * N, k * N + N), bOff + k * N8);
        mem.fill(0, bOff + k * N8 + N, bOff + (k + 1) * N8);
      }
      panel = 32;
      ldb = N8 * 4;
    }
    this.gemm(aOff * 4, bOff * 4, cOff * 4, M4, K, N8, panel, ldb);
    const C = new Float32Array(this.memory.buffer);
    if (N8 === N) out.data.set(C.subarray(cOff, cOff + M * N));
    else for (let i = 0; i < M; i++) out.data.set(C.subarray(cOff + i * N8, cOff + i * N8 + N), i * N);
    return out;
  }
}
