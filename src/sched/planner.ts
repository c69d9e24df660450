import { unitCosts, type CostProfile } from './cost.js';
import type { Placement, PlacementOp } from './placement.js';

/**
 * FlexMoE's policy maker (Algorithm 2, reconstructed from the paper's description and third-party
 * re-implementations): greedily expand the expert with the highest load per replica, taking a free
 * slot on the least-loaded device, or else a slot freed by shrinking the coldest replicated expert;
 * also try migrating a replica off the busiest device. Each candidate is scored by the cost model's
 * planning objective (busiest device's expert compute + its replica all-reduce) plus its migration
 * cost amortised over `horizon` steps; the best candidate is kept while it pays for itself.
 * Everything is incremental over arrays, so planning stays cheap at 1024 experts × 256 devices.
 */
export interface PlannerOptions {
  /** Steps a new placement is expected to last; migration cost is divided by it. */
  horizon: number;
  /** Upper bound on ops per plan. */
  maxOps?: number;
}

interface State {
  count: Int32Array; // replicas per expert
  reps: number[][]; // devices per expert
  hosts: Set<number>[]; // experts per device
  load: Float64Array; // expert tokens per device
  sync: Float64Array; // replica all-reduce ms per device
}

export function planFlexMoE(expertLoad: Float64Array, placement: Placement, cost: CostProfile, { horizon, maxOps = 4 * placement.devices * placement.slots }: PlannerOptions): PlacementOp[] {
  const u = unitCosts(cost);
  const D = placement.devices, E = placement.experts, S = placement.slots;
  const node = (d: number) => Math.floor(d / cost.devicesPerNode);
  const copyMs = (sameNode: boolean) => u.linkMs(u.paramBytes * (cost.training ? cost.stateBytesFactor : 1), sameNode);
  const allReduceMs = (devs: number[]) => {
    const n = devs.length;
    if (n < 2 || !cost.training) return 0;
    const same = devs.every((d) => node(d) === node(devs[0]!));
    return u.linkMs((2 * (n - 1) * u.paramBytes) / n, same);
  };

  const st: State = {
    count: new Int32Array(E),
    reps: placement.replicas(),
    hosts: placement.hosts.map((h) => new Set(h)),
    load: new Float64Array(D),
    sync: new Float64Array(D),
  };
  for (let e = 0; e < E; e++) {
    st.count[e] = st.reps[e]!.length;
    const share = expertLoad[e]! / st.count[e]!;
    const ar = allReduceMs(st.reps[e]!);
    for (const d of st.reps[e]!) {
      st.load[d]! += share;
      st.sync[d]! += ar;
    }
  }
  // The busiest device also receives the most tokens: all-to-all time grows with its load too
  // (4 passes; senders in other nodes come over the slow link).
  const remoteInter = Math.max(0, D - cost.devicesPerNode) / D, remoteIntra = (Math.min(D, cost.devicesPerNode) - 1) / D;
  const a2aMsPerToken = 4 * (u.linkMs(u.tokenBytes * remoteInter, false) + u.linkMs(u.tokenBytes * remoteIntra, true));
  const msPerToken = u.expertMsPerToken + a2aMsPerToken;
  // Step time follows the busiest device, but a greedy on the max alone stalls on plateaus (two
  // devices near the max: relieving either changes nothing). Half the weight on the mean of the
  // busiest eighth of devices lets each step of such a climb count.
  const top = Math.max(1, Math.floor(D / 8));
  const scratch = new Float64Array(D);
  const objective = (load: Float64Array, sync: Float64Array) => {
    let ml = 0, ms = 0;
    for (let d = 0; d < D; d++) {
      if (load[d]! > ml) ml = load[d]!;
      if (sync[d]! > ms) ms = sync[d]!;
    }
    let topMean = ml;
    if (top > 1) {
      scratch.set(load);
      scratch.sort();
      topMean = 0;
      for (let i = D - top; i < D; i++) topMean += scratch[i]!;
      topMean /= top;
    }
    return (0.5 * ml + 0.5 * topMean) * msPerToken + ms;
  };

  /** Objective after changing expert e's replica set from `before` to `after`. */
  const trial = (e: number, before: number[], after: number[]) => {
    const load = st.load.slice(), sync = st.sync.slice();
    const l = expertLoad[e]!;
    const arBefore = allReduceMs(before), arAfter = allReduceMs(after);
    for (const d of before) {
      load[d]! -= l / before.length;
      sync[d]! -= arBefore;
    }
    for (const d of after) {
      load[d]! += l / after.length;
      sync[d]! += arAfter;
    }
    return { load, sync, value: objective(load, sync) };
  };

  const commit = (e: number, after: number[], t: { load: Float64Array; sync: Float64Array }) => {
    for (const d of st.reps[e]!) st.hosts[d]!.delete(e);
    for (const d of after) st.hosts[d]!.add(e);
    st.reps[e] = after;
    st.count[e] = after.length;
    st.load = t.load;
    st.sync = t.sync;
  };

  const ops: PlacementOp[] = [];
  let current = objective(st.load, st.sync);
  const eps = 1e-9;
  while (ops.length < maxOps) {
    let hot = 0;
    for (let e = 1; e < E; e++) if (expertLoad[e]! / st.count[e]! > expertLoad[hot]! / st.count[hot]!) hot = e;
    type Cand = { ops: PlacementOp[]; changes: [number, number[]][]; value: number; t: { load: Float64Array; sync: Float64Array }[] };
    const cands: Cand[] = [];
    const hotReps = st.reps[hot]!;
    const nearestCopy = (to: number, from: number[]) => copyMs(from.some((d) => node(d) === node(to)));

    // Expand the hot expert into the least-loaded device with a free slot, anywhere or within a
    // node that already holds it (a replica group inside one node all-reduces over the fast links).
    const hotNodes = new Set(hotReps.map(node));
    let target = -1, nearTarget = -1;
    for (let d = 0; d < D; d++) {
      if (st.hosts[d]!.size >= S || st.hosts[d]!.has(hot)) continue;
      if (target < 0 || st.load[d]! < st.load[target]!) target = d;
      if (hotNodes.has(node(d)) && (nearTarget < 0 || st.load[d]! < st.load[nearTarget]!)) nearTarget = d;
    }
    for (const g of new Set([target, nearTarget])) {
      if (g < 0) continue;
      const after = [...hotReps, g];
      const t = trial(hot, hotReps, after);
      cands.push({ ops: [{ op: 'expand', expert: hot, device: g }], changes: [[hot, after]], value: t.value + nearestCopy(g, hotReps) / horizon, t: [t] });
    }
    if (target < 0) {
      // Shrink the coldest replicated expert on a device without the hot one, then expand there.
      let cold = -1;
      for (let e = 0; e < E; e++) {
        if (e === hot || st.count[e]! < 2) continue;
        if (!st.reps[e]!.some((d) => !st.hosts[d]!.has(hot))) continue;
        if (cold < 0 || expertLoad[e]! / st.count[e]! < expertLoad[cold]! / st.count[cold]!) cold = e;
      }
      if (cold >= 0) {
        const coldReps = st.reps[cold]!;
        let g = -1;
        for (const d of coldReps) if (!st.hosts[d]!.has(hot) && (g < 0 || st.load[d]! > st.load[g]!)) g = d;
        const coldAfter = coldReps.filter((d) => d !== g);
        const t1 = trial(cold, coldReps, coldAfter);
        const saved = { load: st.load, sync: st.sync };
        st.load = t1.load;
        st.sync = t1.sync;
        const hotAfter = [...hotReps, g];
        const t2 = trial(hot, hotReps, hotAfter);
        st.load = saved.load;
        st.sync = saved.sync;
        cands.push({
          ops: [{ op: 'shrink', expert: cold, device: g }, { op: 'expand', expert: hot, device: g }],
          changes: [[cold, coldAfter], [hot, hotAfter]],
          value: t2.value + nearestCopy(g, hotReps) / horizon,
          t: [t1, t2],
        });
      }
    }
    // Migrate one replica from the busiest device to the least-loaded device with a free slot.
    let busiest = 0, idle = -1;
    for (let d = 0; d < D; d++) if (st.load[d]! > st.load[busiest]!) busiest = d;
    for (let d = 0; d < D; d++) if (d !== busiest && st.hosts[d]!.size < S && (idle < 0 || st.load[d]! < st.load[idle]!)) idle = d;
    if (idle >= 0) {
      const gap = st.load[busiest]! - st.load[idle]!;
      let best = -1, bestShare = 0;
      for (const e of st.hosts[busiest]!) {
        if (st.hosts[idle]!.has(e)) continue;
        const share = expertLoad[e]! / st.count[e]!;
        if (share < gap && Math.abs(gap / 2 - share) < Math.abs(gap / 2 - bestShare)) {
          best = e;
          bestShare = share;
        }
      }
      if (best >= 0) {
        const before = st.reps[best]!;
        const after = before.map((d) => (d === busiest ? idle : d));
        const t = trial(best, before, after);
        cands.push({ ops: [{ op: 'migrate', expert: best, from: busiest, to: idle }], changes: [[best, after]], value: t.value + copyMs(node(busiest) === node(idle)) / horizon, t: [t] });
      }
    }
    if (!cands.length) break;
    const pick = cands.reduce((a, b) => (b.value < a.value ? b : a));
    if (pick.value >= current - eps) break;
    pick.changes.forEach(([e, after], i) => commit(e, after, pick.t[i]!));
    ops.push(...pick.ops);
    current = objective(st.load, st.sync);
  }
  return ops;
}
