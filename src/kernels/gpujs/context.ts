import { gpujs, input, type GpuInstance, type GpuKernel, type GpuMode } from './gpujs.js';
import { Tensor, type F32 } from '../../tensor/tensor.js';

/**
 * Row counts are rounded up to a bucket so that variable token counts reuse a few compiled
 * modules (each new size costs milliseconds to build): 4, 8, 12, 16, 24, 32, 48, 64, 96, …
 * Multiples of 4 throughout, as the rows4 matmul needs; past 8 rows a bucket is at most 1.5x its rows.
 */
export function bucket(n: number): number {
  if (n <= 4) return 4;
  const p = 2 ** Math.floor(Math.log2(n));
  if (n === p) return n;
  const mid = p + p / 2;
  return n <= mid && Number.isInteger(mid / 4) ? mid : 2 * p;
}

interface KernelSettings {
  output: number[];
  constants?: Record<string, number>;
  returnType?: string;
  loopMaxIterations?: number;
}

/** One gpu.js instance and its compiled kernels (LRU; evicted kernels are destroyed, not leaked). */
export class GpuJsContext {
  readonly gpu: GpuInstance;
  readonly mode: GpuMode;
  private readonly kernels = new Map<string, GpuKernel>();
  private readonly scratchBuffers = new Map<string, Float32Array>();
  kernelLimit = 256;
  compiled = 0;

  constructor(mode: GpuMode) {
    this.mode = mode;
    // The mode is always explicit: left to itself gpu.js prefers headlessgl whenever `gl` loads.
    this.gpu = new (gpujs().GPU)({ mode });
  }

  /** The kernel for `key`, compiled from `source` on first use. */
  kernel(key: string, source: string, settings: KernelSettings): GpuKernel {
    let k = this.kernels.get(key);
    if (k) {
      this.kernels.delete(key);
      this.kernels.set(key, k);
      return k;
    }
    k = this.gpu.createKernel(source as never, { tactic: 'precision', ...settings } as never) as GpuKernel;
    this.compiled++;
    this.kernels.set(key, k);
    if (this.kernels.size > this.kernelLimit) {
      const [oldKey, old] = this.kernels.entries().next().value as [string, GpuKernel];
      this.kernels.delete(oldKey);
      old.destroy();
    }
    return k;
  }

  /**
   * `data` viewed as [rows, cols] padded with zero rows to `paddedRows`, as a gpu.js input.
   * A scratch buffer per slot is reused: synchronous backends copy arguments at call time.
   */
  rows(data: Float32Array | Int32Array, rows: number, cols: number, paddedRows: number, slot: string) {
    const n = rows * cols;
    let src: Float32Array;
    if (paddedRows === rows && data instanceof Float32Array) src = data.length === n ? data : data.subarray(0, n);
    else {
      src = this.scratch(slot, paddedRows * cols);
      src.set(data.subarray(0, n));
      src.fill(0, n);
    }
    return input(src, [cols, paddedRows]);
  }

  private scratch(slot: string, n: number): Float32Array {
    if (this.mode === 'webgpu' || this.mode === 'headlessgl') return new Float32Array(n);
    const key = `${slot}:${n}`;
    let s = this.scratchBuffers.get(key);
    if (!s) {
      if (this.scratchBuffers.size > 256) this.scratchBuffers.clear();
      this.scratchBuffers.set(key, (s = new Float32Array(n)));
    }
    return s;
  }

  destroy(): void {
    for (const k of this.kernels.values()) k.destroy();
    this.kernels.clear();
    this.scratchBuffers.clear();
    this.gpu.destroy();
  }
}

/**
 * Copies the first `rows` rows of a gpu.js result of logical shape [paddedRows][cols][width] into
 * `width` tensors of shape [rows, cols] (lane w of every cell goes to tensor w). webasm returns one
 * contiguous buffer of row views; other modes may return separate arrays, handled the slow way.
 */
export function unpack(result: unknown, rows: number, cols: number, width = 1): F32[] {
  const outs = Array.from({ length: width }, () => Tensor.zeros([rows, cols]));
  if (rows === 0 || cols === 0) return outs;
  const r = result as ArrayLike<unknown>;
  const leaf0 = width === 1 ? (r[0] as Float32Array) : ((r[0] as ArrayLike<Float32Array>)[0] as Float32Array);
  const flat = contiguous(r, leaf0, rows, cols, width);
  if (flat) {
    if (width === 1) outs[0]!.data.set(flat.subarray(0, rows * cols));
    else for (let i = 0, n = rows * cols; i < n; i++) for (let w = 0; w < width; w++) outs[w]!.data[i] = flat[i * width + w]!;
    return outs;
  }
  for (let y = 0; y < rows; y++) {
    const row = r[y] as ArrayLike<number> | ArrayLike<ArrayLike<number>>;
    for (let x = 0; x < cols; x++) {
      if (width === 1) outs[0]!.data[y * cols + x] = (row as ArrayLike<number>)[x]!;
      else for (let w = 0; w < width; w++) outs[w]!.data[y * cols + x] = (row as ArrayLike<ArrayLike<number>>)[x]![w]!;
    }
  }
  return outs;
}

function contiguous(r: ArrayLike<unknown>, leaf0: Float32Array, rows: number, cols: number, width: number): Float32Array | null {
  if (!(leaf0 instanceof Float32Array)) return null;
  const lastRow = r[rows - 1] as Float32Array | ArrayLike<Float32Array>;
  const last = width === 1 ? (lastRow as Float32Array) : (lastRow as ArrayLike<Float32Array>)[cols - 1]!;
  const expect = leaf0.byteOffset + (width === 1 ? (rows - 1) * cols * 4 : ((rows - 1) * cols + cols - 1) * width * 4);
  if (!(last instanceof Float32Array) || last.buffer !== leaf0.buffer || last.byteOffset !== expect) return null;
  return new Float32Array(leaf0.buffer, leaf0.byteOffset, rows * cols * width);
}

/** A 1-D result (output [n]) as a Float32Array of its first n values. */
export function unpack1(result: unknown, n: number): Float32Array {
  const r = result as Float32Array;
  return r.length === n ? r : r.subarray(0, n);
}

/** A 1-D result whose cells return Array(width): lane w of the first n cells, one Float32Array per lane. */
export function unpackLanes(result: unknown, n: number, width: number): Float32Array[] {
  const outs = Array.from({ length: width }, () => new Float32Array(n));
  const r = result as ArrayLike<Float32Array>;
  for (let i = 0; i < n; i++) {
    const cell = r[i]!;
    for (let w = 0; w < width; w++) outs[w]![i] = cell[w]!;
  }
  return outs;
}
