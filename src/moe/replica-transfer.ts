import type { Collectives } from '../runtime/collectives.js';
import { Tensor, type F32 } from '../tensor/tensor.js';

/**
 * Brings new replicas up to date after a placement change: for every (layer, expert) that gains
 * devices, the lowest-numbered current holder sends the expert's tensors (weights, and for training
 * the optimizer moments) to the devices gaining it. Transfers with the same source and the same
 * gaining devices go as one broadcast (each collective costs a synchronisation of its members, which
 * dominates at these sizes); every device builds the same groups in the same order, so the
 * broadcasts pair up. Returns the bytes this device received.
 */
export async function sendToNewReplicas(collectives: Collectives, me: number, before: number[][][], after: number[][][], tensorsOf: (layer: number, expert: number) => F32[]): Promise<number> {
  const groups = new Map<string, { source: number; members: number[]; parts: F32[] }>();
  for (let l = 0; l < after.length; l++) {
    for (let e = 0; e < after[l]!.length; e++) {
      const was = before[l]![e]!;
      const gaining = after[l]![e]!.filter((d) => !was.includes(d)).sort((a, b) => a - b);
      const source = Math.min(...was);
      if (!gaining.length || ![source, ...gaining].includes(me)) continue;
      const key = `${source}>${gaining.join(',')}`;
      const g = groups.get(key) ?? { source, members: [source, ...gaining], parts: [] };
      g.parts.push(...tensorsOf(l, e));
      groups.set(key, g);
    }
  }
  let received = 0;
  for (const key of [...groups.keys()].sort()) {
    const { source, members, parts } = groups.get(key)!;
    let flat: F32 | null = null;
    if (me === source) {
      flat = Tensor.zeros([parts.reduce((n, t) => n + t.size, 0)]) as F32;
      let at = 0;
      for (const t of parts) (flat.data.set(t.data, at), (at += t.size));
    }
    const got = await collectives.broadcast(flat, source, members);
    if (me === source) continue;
    let at = 0;
    for (const t of parts) (t.data.set(got.data.subarray(at, at + t.size)), (at += t.size));
    received += got.data.byteLength;
  }
  return received;
}
