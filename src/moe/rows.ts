import { Tensor, type F32 } from '../tensor/tensor.js';
import type { Gate, Routing } from './gate.js';

/**
 * The combine step's backward for one block of expert rows: for each routing slot (t·k + j) whose
 * expert output is row i of `out`, d(loss)/d(weight) = dy[t]·out[i] goes into `dWeights[slot]`, and
 * the expert's output gradient row is weight · dy[t]. Shared by the one-process and distributed layers.
 */
export function combineBackward(dy: F32, out: F32, slots: Int32Array, weights: Float64Array, k: number, dWeights: Float64Array): F32 {
  const d = dy.cols;
  const dOut = Tensor.zeros([slots.length, d], dy.dtype) as F32;
  slots.forEach((s, i) => {
    const t = Math.floor(s / k), w = weights[s]!;
    let dot = 0;
    for (let c = 0; c < d; c++) {
      dot += dy.data[t * d + c]! * out.data[i * d + c]!;
      dOut.data[i * d + c] = w * dy.data[t * d + c]!;
    }
    dWeights[s] = dot;
  });
  return dOut;
}

/** Adds gradient rows back onto their tokens: dx[t] += rows[i] for each slot (t·k + j) of row i. */
export function scatterRows(dx: F32, rows: F32, slots: ArrayLike<number>, k: number, rowOf: (i: number) => number = (i) => i): void {
  const d = dx.cols;
  for (let i = 0; i < slots.length; i++) {
    const t = Math.floor(slots[i]! / k), r = rowOf(i);
    for (let c = 0; c < d; c++) dx.data[t * d + c]! += rows.data[r * d + c]!;
  }
}

/** Adds the router's input gradient (from the combine weights and its auxiliary losses) to dx. */
export async function addGateGradient(gate: Gate, dx: F32, dWeights: Float64Array, auxScale: number): Promise<F32> {
  const dxGate = await gate.backward(dWeights, auxScale);
  for (let i = 0; i < dx.size; i++) dx.data[i]! += dxGate.data[i]!;
  return dx;
}

/** The router's auxiliary losses of the last forward (aux + z), 0 before any. */
export function routerLoss(routing: Routing | null): number {
  return routing ? routing.auxLoss + routing.zLoss : 0;
}
