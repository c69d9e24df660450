import { errors } from '../errors.js';
import type { DType, Tensor } from './tensor.js';

/** Shape and dtype guards shared by every kernel; each error names the op and both shapes. */
export function expectDType(op: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) throw errors.dtypeMismatch(op, `${t.dtype} (${t})`, dtype);
}

export function expectRank(op: string, t: Tensor, rank: number): void {
  if (t.rank !== rank) throw errors.badShape(op, t.shape, `rank ${rank}`);
}

export function expectSameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw errors.shapeMismatch(op, 'operands', a.shape, b.shape);
  }
}

export function expectDim(op: string, what: string, a: Tensor, aDim: number, b: Tensor, bDim: number): void {
  if (a.shape[aDim] !== b.shape[bDim]) throw errors.shapeMismatch(op, what, a.shape, b.shape);
}
