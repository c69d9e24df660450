import { errors } from '../errors.js';
import type { Placement } from './placement.js';
import { shadowGroup } from '../moe/shadow-group.js';
import type { CostProfile } from './profile.js';

// The profile's fields and the built-in profiles live in profile.ts; re-exported for existing imports.
export * from './profile.js';

/** Derived per-token and per-expert costs (ms). */
export function unitCosts(p: CostProfile) {
  // Two matmuls, 2·d·f FLOPs each; training adds the backward pass (×3 in all), inference does not.
  const passes = p.training ? 3 : 1;
  const expertFlopsPerToken = 4 * passes * p.dModel * p.dFF;
  const paramBytes = 2 * p.dModel * p.dFF * p.bytesPerValue;
  return {
    expertMsPerToken: expertFlopsPerToken / (p.expertTflops * 1e9),
    // The profile's dense FLOPs count forward + backward; inference runs the forward third.
    denseMsPerToken: (p.denseFlopsPerToken * (p.training ? 1 : 1 / 3)) / (p.denseTflops * 1e9),
    tokenBytes: p.dModel * p.bytesPerValue,
    paramBytes,
    /** ms to move `bytes` over a link (GB/s = 1e6 bytes per ms). */
    linkMs: (bytes: number, sameNode: boolean) => bytes / ((sameNode ? p.intraNodeGBps : p.interNodeGBps) * 1e6),
  };
}

export type UnitCosts = ReturnType<typeof unitCosts>;

export interface StepCost {
  stepMs: number;
  denseMs: number;
  computeMs: number;
  a2aMs: number;
  syncMs: number;
  /** Device expert loads (tokens, padding included). */
  deviceTokens: Float64Array;
  /** max ÷ mean of the real (unpadded) tokens each device computes. */
  balanceRatio: number;
  droppedTokens: number;
}

/**
 * How tokens meet experts in one step:
 *  - `split`: each expert's tokens split evenly over its replicas (FlexMoE, EPLB), no padding; with
 *    `locality` the split is topology-aware: a source that holds a replica keeps its own tokens
 *    there, a source without one sends to the replicas in its own node, and only a node without a
 *    replica splits over all of them (far less traffic on the slow links; within one node, as on
 *    one machine, this is the device-local split the live runtime does);
 *  - `padMax`: DeepSpeed dropless: every expert buffer padded to the largest expert's count;
 *  - `capacity`: DeepSpeed/GShard with a capacity factor: per-source buffers of fixed capacity, overflow dropped;
 *  - `shadow`: FasterMoE: shadowed experts computed where their tokens are (weights broadcast,
 *    gradients summed back); the other experts as `split`, topology-aware with `locality`;
 *  - `oracle`: perfect per-step balance, uniform traffic, no replica cost (a lower bound).
 */
export type Dispatch =
  | {
      mode: 'split';
      locality?: boolean;
      /**
       * Replicas per device of each expert (`copies[e][d]`; 0 where d holds none), when a device may
       * hold more than one replica of an expert (DeepSeek EPLB plans that): tokens split per replica,
       * so such a device takes that many shares. Absent, one replica per holding device.
       */
      copies?: readonly (readonly number[])[];
    }
  | { mode: 'padMax' }
  | { mode: 'capacity'; factor: number; topk: number }
  | { mode: 'shadow'; shadows: readonly number[]; locality?: boolean }
  | { mode: 'oracle' };

/**
 * Step time of one MoE layer (dense part included): dense + busiest device's expert compute +
 * all-to-all (4 passes: dispatch and combine, forward and backward; per device the slower of its
 * send and receive volumes, links by node) + replica gradient all-reduce (hierarchical ring, per
 * device the sum over its replicated experts). `counts[s][e]` = assignments from source device s to expert e.
 */
export function stepCost(counts: readonly ArrayLike<number>[], placement: Placement, p: CostProfile, dispatch: Dispatch = { mode: 'split' }, topk = 1): StepCost {
  const u = unitCosts(p);
  const D = placement.devices, E = placement.experts;
  if (counts.length !== D) throw errors.badArgument('stepCost', `counts has ${counts.length} source rows for ${D} devices`);
  const reps = placement.replicas();
  const node = (d: number) => Math.floor(d / p.devicesPerNode);
  const tokens = new Float64Array(D); // expert tokens per device, padding included
  const real = new Float64Array(D); // the same without padding
  // Expert buffers each device computes: counted only when the profile prices them.
  const callMs = dispatch.mode === 'oracle' ? 0 : (p.expertCallMs ?? 0);
  const calls = new Float64Array(D);
  const out = new Float64Array(D * 2), inn = new Float64Array(D * 2); // [intra, inter] bytes per device
  let dropped = 0, localTokens = 0;
  const shadowSet = dispatch.mode === 'shadow' ? new Set(dispatch.shadows) : null;
  const expertTotal = new Float64Array(E);
  for (let s = 0; s < D; s++) {
    const row = counts[s]!;
    for (let e = 0; e < E; e++) expertTotal[e]! += row[e]!;
  }
  // Topology-aware split: each expert's replicas by node, once per step rather than per source.
  const locality = (dispatch.mode === 'split' || dispatch.mode === 'shadow') && dispatch.locality === true;
  const byNode = locality
    ? reps.map((r) => {
        const m = new Map<number, number[]>();
        for (const d of r) m.set(node(d), [...(m.get(node(d)) ?? []), d]);
        return m;
      })
    : null;
  // Which (device, expert) buffers receive rows this step: a buffer is one call whatever its sources.
  const held = callMs > 0 ? new Uint8Array(D * E) : null;
  let cap = 0;
  if (dispatch.mode === 'padMax') for (let e = 0; e < E; e++) cap = Math.max(cap, expertTotal[e]! / reps[e]!.length);
  for (let s = 0; s < D; s++) {
    const row = counts[s]!;
    let rowSum = 0;
    for (let e = 0; e < E; e++) rowSum += row[e]!;
    localTokens = Math.max(localTokens, rowSum);
    const capacity = dispatch.mode === 'capacity' ? Math.ceil((dispatch.factor * rowSum) / E) : 0;
    for (let e = 0; e < E; e++) {
      let c = row[e]!;
      let kept = c;
      if (dispatch.mode === 'capacity') {
        dropped += Math.max(0, c - capacity);
        kept = Math.min(c, capacity);
        c = capacity; // buffers are padded to capacity and travel whole
      }
      if (shadowSet?.has(e)) {
        tokens[s]! += c; // computed where it originates
        real[s]! += c;
        if (c > 0 && held) calls[s]!++;
        continue;
      }
      if (dispatch.mode === 'oracle') continue;
      let r = reps[e]!;
      if (locality) {
        if (r.includes(s)) {
          tokens[s]! += c;
          real[s]! += c;
          if (c > 0 && held) held[s * E + e] = 1;
          continue;
        }
        r = byNode![e]!.get(node(s)) ?? r;
      }
      const copies = dispatch.mode === 'split' ? dispatch.copies?.[e] : undefined;
      let replicas = r.length;
      if (copies) {
        replicas = 0;
        for (const d of r) replicas += copies[d]!;
      }
      for (const d of r) {
        const part = copies ? copies[d]! / replicas : 1 / r.length;
        const share = c * part;
        real[d]! += kept * part;
        if (dispatch.mode !== 'padMax') tokens[d]! += share;
        if (share > 0 && held) held[d * E + e] = 1;
        if (d === s) continue;
        const k = node(d) === node(s) ? 0 : 1;
        out[s * 2 + k]! += share * u.tokenBytes;
        inn[d * 2 + k]! += share * u.tokenBytes;
      }
    }
  }
  if (dispatch.mode === 'padMax') for (let d = 0; d < D; d++) tokens[d] = placement.hosts[d]!.length * cap;
  if (held) {
    for (let d = 0; d < D; d++) {
      if (dispatch.mode === 'padMax') calls[d] = cap > 0 ? placement.hosts[d]!.length : 0;
      else for (let e = 0; e < E; e++) calls[d]! += held[d * E + e]!;
    }
  }
  if (dispatch.mode === 'oracle') {
    let total = 0;
    for (let e = 0; e < E; e++) total += expertTotal[e]!;
    tokens.fill(total / D);
    real.fill(total / D);
    // uniform traffic: each token leaves its device with probability (D-1)/D
    const perDevice = (total / D) * u.tokenBytes * ((D - 1) / D);
    const sameNodeShare = Math.min(p.devicesPerNode, D) - 1;
    for (let d = 0; d < D; d++) {
      out[d * 2] = inn[d * 2] = (perDevice * sameNodeShare) / Math.max(1, D - 1);
      out[d * 2 + 1] = inn[d * 2 + 1] = perDevice - out[d * 2]!;
    }
  }
  let computeMs = 0, a2a = 0;
  for (let d = 0; d < D; d++) {
    computeMs = Math.max(computeMs, tokens[d]! * u.expertMsPerToken + calls[d]! * callMs);
    const send = u.linkMs(out[d * 2]!, true) + u.linkMs(out[d * 2 + 1]!, false);
    const recv = u.linkMs(inn[d * 2]!, true) + u.linkMs(inn[d * 2 + 1]!, false);
    a2a = Math.max(a2a, send, recv);
  }
  const sync = dispatch.mode === 'oracle' ? 0 : syncMs(placement, reps, p, u, shadowSet);
  // Dense layers run once per token, not once per (token, expert) assignment.
  const denseMs = (localTokens / topk) * u.denseMsPerToken;
  // Dispatch and combine forward; training retraces both backward.
  const a2aMs = (p.training ? 4 : 2) * a2a;
  let sum = 0, maxReal = 0;
  for (let d = 0; d < D; d++) {
    sum += real[d]!;
    maxReal = Math.max(maxReal, real[d]!);
  }
  return { stepMs: denseMs + computeMs + a2aMs + sync, denseMs, computeMs, a2aMs, syncMs: sync, deviceTokens: tokens, balanceRatio: sum === 0 ? 1 : maxReal / (sum / D), droppedTokens: dropped };
}

/**
 * All-reduce of one expert's gradients over the devices holding it, hierarchical as NCCL does it
 * across nodes: a ring within each node (fast links), then a ring across the k nodes, where the
 * m replicas of a node each carry 1/m of the gradient over their own slow link (so the slowest
 * node, with the fewest replicas, sets the pace), then the result spreads back within each node.
 */
export function allReduceMs(group: readonly number[], p: CostProfile, u: UnitCosts = unitCosts(p)): number {
  const n = group.length;
  if (n < 2 || !p.training) return 0;
  // Replicas per node, counted in a scratch array indexed by node (a planner prices thousands of
  // groups per plan: no Map, no closure per call).
  const dpn = p.devicesPerNode;
  let nodes = 0;
  for (const d of group) nodes = Math.max(nodes, Math.floor(d / dpn) + 1);
  if (perNodeScratch.length < nodes) perNodeScratch = new Int32Array(Math.max(nodes, 2 * perNodeScratch.length));
  const perNode = perNodeScratch;
  for (const d of group) perNode[Math.floor(d / dpn)]!++;
  let k = 0, most = 0, fewest = Infinity;
  for (const d of group) {
    const m = perNode[Math.floor(d / dpn)]!;
    if (m === 0) continue; // this node was counted already
    k++;
    most = Math.max(most, m);
    fewest = Math.min(fewest, m);
    perNode[Math.floor(d / dpn)] = 0; // leaves the scratch zeroed for the next call
  }
  // Within a node the ring moves 2(m-1)/m of the gradient, growing with m: the fullest node sets it.
  const within = arLinkMs((2 * (most - 1) * u.paramBytes) / most, true, p, u);
  const across = k < 2 ? 0 : arLinkMs((2 * (k - 1) * u.paramBytes) / k / fewest, false, p, u);
  return within + across;
}

let perNodeScratch = new Int32Array(64);

/** A measured all-reduce bandwidth caps the link's (the collective is slower than its wire). */
function arLinkMs(bytes: number, sameNode: boolean, p: CostProfile, u: UnitCosts): number {
  return Math.max(u.linkMs(bytes, sameNode), p.allReduceGBps ? bytes / (p.allReduceGBps * 1e6) : 0);
}

/**
 * Per device, the sum of the all-reduces of the replicated experts it holds, with what holding each
 * expert costs it per step in training (`expertHeldMs`: its optimizer update and the like), and the
 * same for each shadow on every device of the shadow's group.
 */
function syncMs(placement: Placement, reps: number[][], p: CostProfile, u: UnitCosts, shadows: Set<number> | null): number {
  const perDevice = new Float64Array(placement.devices);
  const held = p.training ? (p.expertHeldMs ?? 0) : 0;
  if (held > 0) for (let d = 0; d < placement.devices; d++) perDevice[d] = held * placement.hosts[d]!.length;
  const add = (group: number[]) => {
    const ms = allReduceMs(group, p, u);
    if (ms > 0) for (const d of group) perDevice[d]! += ms;
  };
  if (p.training) reps.forEach((r, e) => (shadows?.has(e) ? undefined : add(r)));
  if (shadows?.size) {
    // A shadowed expert's weights go to every device and, in training, its gradients come back:
    // like a full-group all-reduce; serving ships the weights alone, half of one.
    const each = allReduceMs([...Array(placement.devices).keys()], { ...p, training: true }, u) * (p.training ? 1 : 0.5);
    for (let d = 0; d < placement.devices; d++) perDevice[d]! += each * shadows.size;
    // In training a shadow is also an expert held for the step on every device of its group: its
    // weights unpacked into a copy, the copy's gradients packed and summed into the original.
    if (held > 0) for (const e of shadows) for (const d of shadowGroup(reps[e]!, placement.devices)) perDevice[d]! += held;
  }
  if (p.collectiveMs) addCollectives(perDevice, reps, p, shadows);
  let max = 0;
  for (const v of perDevice) max = Math.max(max, v);
  return max;
}

/**
 * The fixed cost of the collectives a placement adds, per device (`collectiveMs` each), as the
 * runtime buckets them: replica gradients in one all-reduce per device set (train/grad-sync.ts;
 * a set of every device joins the dense gradients' all-reduce, which runs anyway), and shadowed
 * experts in one weights' all-to-all per group of their root and the devices without a replica,
 * plus, in training, one all-reduce of the copies' gradients (moe/shadows.ts, shadowBuckets).
 * Shadows are per layer, as here; the gradient buckets are per step, over every layer, so where
 * several layers replicate experts on the same device set this counts that set once per layer.
 */
function addCollectives(perDevice: Float64Array, reps: number[][], p: CostProfile, shadows: Set<number> | null): void {
  const D = perDevice.length, ms = p.collectiveMs!;
  const groups = new Map<string, { members: readonly number[]; times: number }>();
  const add = (kind: string, members: readonly number[], times: number) => {
    const key = `${kind}:${members.join(',')}`;
    if (!groups.has(key)) groups.set(key, { members, times });
  };
  reps.forEach((r, e) => {
    if (shadows?.has(e)) {
      const members = shadowGroup(r, D);
      if (members.length > 1) add('shadow', members, p.training ? 2 : 1);
    } else if (p.training && r.length > 1 && r.length < D) add('replicas', [...r].sort((a, b) => a - b), 1);
  });
  for (const { members, times } of groups.values()) for (const d of members) perDevice[d]! += ms * times;
}
