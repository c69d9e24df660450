import type { Collectives } from '../runtime/collectives.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import type { Parameter } from '../nn/parameter.js';

/** The parameters of one expert on this device, and the devices that hold its replicas. */
export interface ExpertGroup {
  params: Parameter[];
  group: number[];
}

function flatten(params: Parameter[]): F32 {
  const n = params.reduce((a, p) => a + p.grad.size, 0);
  const flat = Tensor.zeros([n]) as F32;
  let at = 0;
  for (const p of params) {
    flat.data.set(p.grad.data, at);
    at += p.grad.size;
  }
  return flat;
}

function unflatten(flat: F32, params: Parameter[]): void {
  let at = 0;
  for (const p of params) {
    p.grad.data.set(flat.data.subarray(at, at + p.grad.size));
    at += p.grad.size;
  }
}

function sumSquares(params: Parameter[]): number {
  let s = 0;
  for (const p of params) for (const v of p.grad.data) s += v * v;
  return s;
}

/**
 * Data-parallel gradient synchronisation for one step: dense gradients are summed over every
 * device (one flattened all-reduce), each expert's over its replica group (experts in index order,
 * so every member calls the same collectives in the same order). Returns the global gradient norm,
 * counting each expert once (by its lowest-numbered replica), for clipping that every device agrees on.
 */
export async function syncGradients(collectives: Collectives, device: number, dense: Parameter[], experts: ExpertGroup[]): Promise<number> {
  if (collectives.devices > 1) unflatten(await collectives.allReduce(flatten(dense)), dense);
  let expertSq = 0;
  for (const { params, group } of experts) {
    if (!group.includes(device)) continue;
    if (group.length > 1) unflatten(await collectives.allReduce(flatten(params), group), params);
    if (Math.min(...group) === device) expertSq += sumSquares(params);
  }
  const total = collectives.devices > 1 ? (await collectives.allReduce(Tensor.from([expertSq]) as F32)).data[0]! : expertSq;
  return Math.sqrt(sumSquares(dense) + total);
}
