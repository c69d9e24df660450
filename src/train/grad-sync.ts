import type { Collectives } from '../runtime/collectives.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import { gradSumSquares, type Parameter } from '../nn/parameter.js';
import type { Backend } from '../kernels/backend.js';

/** The parameters of one expert on this device, and the devices that hold its replicas. */
export interface ExpertGroup {
  params: Parameter[];
  group: number[];
}

/** The gradients end to end, written straight into this device's shared all-reduce region when they fit. */
function flatten(collectives: Collectives, params: Parameter[]): F32 {
  const n = params.reduce((a, p) => a + p.grad.size, 0);
  const flat = collectives.staging(n) ?? (Tensor.zeros([n]) as F32);
  let at = 0;
  for (const p of params) {
    flat.data.set(p.grad.data, at);
    at += p.grad.size;
  }
  return flat;
}

/**
 * Sums the parameters' gradients over `group` in place: flattened into one vector, summed, and each
 * gradient taken back from the sum. A bucket larger than the shared region goes in region-sized
 * runs of whole parameters, each staged straight in the region: flattened whole, it would need a
 * fresh vector the bucket's size every step and a copy into the region besides. (Half of eight
 * d_ff 2048 experts replicated in each of two layers overflows the 8 MB region.)
 */
async function allReduceGrads(collectives: Collectives, params: Parameter[], group?: number[]): Promise<void> {
  for (const run of stagedRuns(params, collectives.stagingFloats)) {
    const sinks: { dst: Float32Array; from: number }[] = [];
    let at = 0;
    for (const p of run) {
      sinks.push({ dst: p.grad.data as Float32Array, from: at });
      at += p.grad.size;
    }
    await collectives.allReduceInto(flatten(collectives, run), sinks, group);
  }
}

/** Consecutive runs of parameters of at most `cap` gradient values each (a larger one alone); one run when `cap` is 0. */
export function stagedRuns(params: Parameter[], cap: number): Parameter[][] {
  if (!(cap > 0)) return params.length ? [params] : [];
  const runs: Parameter[][] = [];
  let run: Parameter[] = [], n = 0;
  for (const p of params) {
    if (run.length && n + p.grad.size > cap) {
      runs.push(run);
      [run, n] = [[], 0];
    }
    run.push(p);
    n += p.grad.size;
  }
  if (run.length) runs.push(run);
  return runs;
}

/**
 * Data-parallel gradient synchronisation for one step, bucketed as DDP does: the dense gradients
 * and the experts replicated on every device are summed in one flattened all-reduce; experts whose
 * replicas share any other device set are summed in one all-reduce per set, sets in a fixed order
 * (so every member calls the same collectives in the same order). One collective per bucket instead
 * of one per expert: each costs a synchronisation of its members, which dominates at these sizes.
 * The sums are elementwise in a fixed device order, so bucketing changes no bit of the result.
 * Returns the global gradient norm, counting each expert once (by its lowest-numbered replica),
 * for clipping that every device agrees on.
 */
export async function syncGradients(be: Backend, collectives: Collectives, device: number, dense: Parameter[], experts: ExpertGroup[]): Promise<number> {
  const D = collectives.devices;
  const everywhere: Parameter[] = [];
  const buckets = new Map<string, { group: number[]; params: Parameter[] }>();
  for (const { params, group } of experts) {
    if (!group.includes(device) || group.length < 2) continue;
    if (group.length === D) everywhere.push(...params);
    else {
      const members = [...group].sort((a, b) => a - b), key = members.join(',');
      const b = buckets.get(key) ?? { group: members, params: [] };
      b.params.push(...params);
      buckets.set(key, b);
    }
  }
  if (D > 1) {
    const all = [...dense, ...everywhere];
    await allReduceGrads(collectives, all);
  }
  for (const key of [...buckets.keys()].sort()) {
    const { group, params } = buckets.get(key)!;
    await allReduceGrads(collectives, params, group);
  }
  let expertSq = 0;
  for (const { params, group } of experts) if (group.includes(device) && Math.min(...group) === device) expertSq += await gradSumSquares(be, params);
  const total = D > 1 ? (await collectives.allReduce(Tensor.from([expertSq]) as F32)).data[0]! : expertSq;
  return Math.sqrt((await gradSumSquares(be, dense)) + total);
}
