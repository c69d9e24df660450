import { inspect } from 'node:util';
import { errors } from '../errors.js';
import { currentArena } from './arena.js';

/** f32 for activations and parameters, i32 for token ids, f64 for gradient checks on the reference backend. */
export type DType = 'f32' | 'i32' | 'f64';
export type TypedArrayOf<D extends DType> = D extends 'f32' ? Float32Array : D extends 'f64' ? Float64Array : Int32Array;

const ctor = { f32: Float32Array, i32: Int32Array, f64: Float64Array } as const;

/** Number of elements of a shape; the empty shape is a scalar (1 element). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw errors.badShape('tensor', shape, 'non-negative integer dimensions');
    n *= d;
  }
  return n;
}

/**
 * A dense, contiguous, row-major tensor: a dtype, a shape and a typed-array view. The view may sit
 * over a SharedArrayBuffer (channels between devices read tensors in place, without copying).
 *
 * @example
 * const x = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
 * String(x); // "Tensor<f32>[2,3]"
 */
export class Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayOf<D>;

  constructor(dtype: D, shape: readonly number[], data: TypedArrayOf<D>) {
    const n = sizeOf(shape);
    if (data.length !== n) throw errors.sizeMismatch('Tensor', shape, data.length);
    if (!(data instanceof ctor[dtype])) throw errors.dtypeMismatch('Tensor', data.constructor.name, dtype);
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.data = data;
  }

  static zeros<D extends DType = 'f32'>(shape: readonly number[], dtype: D = 'f32' as D): Tensor<D> {
    const arena = currentArena();
    return arena ? arena.alloc(shape, dtype, true) : new Tensor(dtype, shape, new ctor[dtype](sizeOf(shape)) as TypedArrayOf<D>);
  }

  /**
   * A tensor whose contents are unspecified, for kernels that write every element. Zeros outside
   * an arena (fresh memory is zeroed anyway); recycled memory as it was inside one (arena.ts).
   */
  static empty<D extends DType = 'f32'>(shape: readonly number[], dtype: D = 'f32' as D): Tensor<D> {
    const arena = currentArena();
    return arena ? arena.alloc(shape, dtype, false) : Tensor.zeros(shape, dtype);
  }

  static from(values: ArrayLike<number>, shape: readonly number[] = [values.length]): Tensor<'f32'> {
    return new Tensor('f32', shape, Float32Array.from(values));
  }

  static ints(values: ArrayLike<number>, shape: readonly number[] = [values.length]): Tensor<'i32'> {
    return new Tensor('i32', shape, Int32Array.from(values));
  }

  /** A tensor viewing `buffer` (ArrayBuffer or SharedArrayBuffer) at `byteOffset`, without copying. */
  static view<D extends DType>(buffer: ArrayBuffer | SharedArrayBuffer, byteOffset: number, shape: readonly number[], dtype: D): Tensor<D> {
    const View = ctor[dtype] as unknown as new (b: ArrayBufferLike, offset: number, length: number) => TypedArrayOf<D>;
    return new Tensor(dtype, shape, new View(buffer, byteOffset, sizeOf(shape)));
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Rows when viewed as a matrix [rows, lastDim]. */
  get rows(): number {
    const c = this.cols;
    return c === 0 ? 0 : this.size / c;
  }

  get cols(): number {
    return this.shape.length === 0 ? 1 : this.shape[this.shape.length - 1]!;
  }

  get isShared(): boolean {
    return typeof SharedArrayBuffer !== 'undefined' && this.data.buffer instanceof SharedArrayBuffer;
  }

  /** Same data, new shape (no copy). */
  reshape(shape: readonly number[]): Tensor<D> {
    if (sizeOf(shape) !== this.size) throw errors.shapeMismatch('reshape', 'element count', this.shape, shape);
    return new Tensor(this.dtype, shape, this.data);
  }

  /** Rows `rows` of a matrix, in that order, as a new [rows.length, cols] tensor. */
  pickRows(rows: readonly number[]): Tensor<D> {
    const C = this.cols, R = this.rows;
    const out = Tensor.empty([rows.length, C], this.dtype);
    rows.forEach((r, i) => {
      if (!Number.isInteger(r) || r < 0 || r >= R) throw errors.indexOutOfRange('pickRows', r, R, i);
      out.data.set(this.data.subarray(r * C, r * C + C), i * C);
    });
    return out;
  }

  clone(): Tensor<D> {
    return new Tensor(this.dtype, this.shape, this.data.slice() as TypedArrayOf<D>);
  }

  /** Element at a multi-index (for tests and debugging; not a hot path). */
  at(...index: number[]): number {
    let off = 0;
    for (let i = 0; i < this.shape.length; i++) off = off * this.shape[i]! + (index[i] ?? 0);
    return this.data[off]!;
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  toString(): string {
    return `Tensor<${this.dtype}>[${this.shape.join(',')}]`;
  }

  [inspect.custom](): string {
    const head = Array.from(this.data.subarray(0, 4), (v) => +v.toPrecision(4)).join(', ');
    return `${this.toString()} {${head}${this.size > 4 ? ', …' : ''}}`;
  }
}

export type F32 = Tensor<'f32'>;
export type I32 = Tensor<'i32'>;
