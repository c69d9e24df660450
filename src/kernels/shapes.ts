import { errors } from '../errors.js';
import type { F32 } from '../tensor/tensor.js';
import type { AttentionShape, MatmulForm } from './types.js';

/** Validates and returns the [M,K]·[K,N] sizes of a matmul in one of its three forms. */
export function matmulShape(a: F32, b: F32, form: MatmulForm): { M: number; K: number; N: number } {
  if (a.rank !== 2 || b.rank !== 2) throw errors.shapeMismatch(`matmul(${form})`, 'operands must be matrices', a.shape, b.shape);
  const [ar, ac] = a.shape as [number, number];
  const [br, bc] = b.shape as [number, number];
  const dims =
    form === 'nn' ? { M: ar, K: ac, N: bc, k2: br } : form === 'nt' ? { M: ar, K: ac, N: br, k2: bc } : { M: ac, K: ar, N: bc, k2: br };
  if (dims.K !== dims.k2) throw errors.shapeMismatch(`matmul(${form})`, 'inner dimensions', a.shape, b.shape);
  return dims;
}

/** Validates q/k/v-like tensors [B*S, H*D] and returns the head size D. */
export function attentionDims(op: string, x: F32, s: AttentionShape): number {
  const width = x.cols;
  if (x.rank !== 2 || x.rows !== s.batch * s.seq || width % s.heads !== 0) {
    throw errors.badShape(op, x.shape, `[batch*seq=${s.batch * s.seq}, heads*headDim] with heads=${s.heads}`);
  }
  return width / s.heads;
}

export function expectScores(op: string, p: F32, s: AttentionShape): void {
  if (p.rank !== 2 || p.rows !== s.batch * s.heads * s.seq || p.cols !== s.seq) {
    throw errors.badShape(op, p.shape, `[batch*heads*seq=${s.batch * s.heads * s.seq}, seq=${s.seq}]`);
  }
}

/** One target per logits row, each below the class count (negative targets are ignored rows). */
export function checkTargets(op: string, rows: number, cols: number, targets: { size: number; data: Int32Array; shape: readonly number[] }, shape: readonly number[]): void {
  if (targets.size !== rows) throw errors.shapeMismatch(op, 'targets vs logits rows', targets.shape, shape);
  for (let i = 0; i < rows; i++) if (targets.data[i]! >= cols) throw errors.indexOutOfRange(op, targets.data[i]!, cols, i);
}
