import { errors } from '../errors.js';
import { rebalanceExperts } from './eplb.js';
import { allReduceMs, unitCosts, type CostProfile } from './cost.js';
import { migrationMs } from './plan-cost.js';
import { pairMigrations, Placement, type PlacementOp } from './placement.js';
import { plannerObjective } from './objective.js';
import { Traffic, trafficOf } from './traffic.js';

/**
 * FlexMoE's policy maker (Algorithm 2, reconstructed from the paper's description and third-party
 * re-implementations): greedily expand the expert that weighs most on the busiest device, taking a
 * free slot, or else a slot freed by shrinking the coldest replicated expert; also try migrating a
 * replica off the busiest device. Each candidate is scored by the cost model's terms (busiest
 * device's expert compute, all-to-all over intra- and inter-node links, replica all-reduce) plus its
 * migration cost amortised over `horizon` steps; the best candidate is kept while it pays for itself.
 * Tokens follow the topology-aware split (traffic.ts), so a replica in each node keeps a hot
 * expert's tokens off the slow links; one candidate adds a replica in every node lacking one at once,
 * because single steps across that boundary each pay a whole inter-node all-reduce first.
 * Everything is incremental over per-device arrays, so planning stays cheap at 1024 experts × 256 devices.
 */
export interface PlannerOptions {
  /** Steps a new placement is expected to last; migration cost is divided by it. */
  horizon: number;
  /** Upper bound on ops per plan. */
  maxOps?: number;
  /** Topology-aware split (the policy's dispatch); default true. */
  locality?: boolean;
  /**
   * A plan must cut the predicted step time (migration included) by at least this fraction, or
   * the placement stays: load estimates wobble from step to step, and plans chasing gains smaller
   * than the wobble flap back and forth (measured live: 7–28 re-plans in 80 steps at 3%, 5 at
   * 10%). Default 0.1.
   */
  minGain?: number;
  /**
   * Also climb from DeepSeek EPLB's plan for these loads (every slot filled by load per replica,
   * packed heaviest first): a global start for when no single move pays but many together do.
   */
  globalStart?: boolean;
  /** Return at once when even perfectly even compute could not pay (exact; `false` only to test that). Default true. */
  bound?: boolean;
  /**
   * Recent steps' per-expert loads: a plan must also pay, by `minGain`, on each of them alone, not
   * only on the estimate. A moving average hides how a step's busiest device moves about, so a plan
   * balanced for the mean can lose on most real steps (learned routers early in training, or
   * swinging between favourites). Among the plans that the estimate prefers, the best that pays
   * on every one of these steps wins; none pays on all of them: the placement stays.
   */
  eachStep?: readonly Float64Array[];
}

interface Trial {
  tr: Traffic;
  sync: Float64Array;
  value: number;
}

export function planFlexMoE(expertLoad: Float64Array, placement: Placement, cost: CostProfile, { horizon, maxOps = 4 * placement.devices * placement.slots, locality = true, minGain = 0.1, globalStart = false, bound = true, eachStep = [] }: PlannerOptions): PlacementOp[] {
  const u = unitCosts(cost);
  const D = placement.devices, E = placement.experts, S = placement.slots;
  eachStep.forEach((h, i) => {
    if (h.length !== E) throw errors.badArgument('planFlexMoE', `eachStep[${i}] has ${h.length} expert loads for ${E} experts`);
  });
  const node = (d: number) => Math.floor(d / cost.devicesPerNode);
  const copyMs = (sameNode: boolean) => u.linkMs(u.paramBytes * (cost.training ? cost.stateBytesFactor : 1), sameNode);
  // Per member of a replica set: its gradient all-reduce and what holding the expert costs (expertHeldMs).
  const held = cost.training ? (cost.expertHeldMs ?? 0) : 0;
  const groupMs = (devs: readonly number[]) => allReduceMs(devs, cost, u) + held;
  // A replica is a buffer more on its device: priced as the cost model prices it (expertCallMs).
  const callRows = (cost.expertCallMs ?? 0) / u.expertMsPerToken;
  const original = placement.replicas();

  const objective = plannerObjective(D, cost, u);

  /** Per-device traffic and all-reduce time of a whole set of replicas. */
  const stateOf = (reps: readonly number[][], loads: Float64Array = expertLoad) => {
    const tr = trafficOf(loads, reps, { devices: D, devicesPerNode: cost.devicesPerNode, locality, callRows });
    const sync: Float64Array = new Float64Array(D);
    for (const r of reps) {
      const ar = groupMs(r);
      for (const d of r) sync[d]! += ar;
    }
    return { tr, sync };
  };

  /**
   * The greedy climb from a starting set of replicas; returns the final replica sets. A replica
   * the original placement already has costs no copy.
   */
  const climb = (start: number[][]): number[][] => {
    const reps = start.map((r) => [...r]);
    const hosts: Set<number>[] = Array.from({ length: D }, () => new Set());
    reps.forEach((r, e) => r.forEach((d) => hosts[d]!.add(e)));
    let { tr, sync } = stateOf(reps);
    // Trials reuse spare buffers: a climb prices thousands of candidates, and allocating a fresh
    // copy of the per-device arrays for each one made garbage collection the planner's largest cost.
    const spare: Trial[] = [];
    const release = (t: Trial | null) => t && spare.push(t);
    /** Prices changing replica sets (in order) on top of the current state. */
    const trial = (changes: readonly [number, number[]][]): Trial => {
      const reuse = spare.pop();
      const t = reuse ? reuse.tr.copyFrom(tr) : tr.clone();
      const s = reuse ? reuse.sync : new Float64Array(D);
      s.set(sync);
      // Changes are one or two experts, distinct but for a shrink-then-expand pair: look back, no Map.
      for (let i = 0; i < changes.length; i++) {
        const [e, after] = changes[i]!;
        let before = reps[e]!;
        for (let j = i - 1; j >= 0; j--) if (changes[j]![0] === e) { before = changes[j]![1]; break; }
        t.add(expertLoad[e]!, before, -1);
        t.add(expertLoad[e]!, after, 1);
        const arB = groupMs(before), arA = groupMs(after);
        for (const d of before) s[d]! -= arB;
        for (const d of after) s[d]! += arA;
      }
      return { tr: t, sync: s, value: objective(t, s) };
    };

    let current = objective(tr, sync), steps = 0;
    const eps = 1e-9;
    // A candidate: new replica sets for some experts, what copying the new replicas costs, and how
    // many placement ops it amounts to (counted against maxOps; the plan's ops come from the diff).
    type Cand = { changes: [number, number[]][]; moveMs: number; n: number };
    const free = (d: number, e: number) => hosts[d]!.size < S && !hosts[d]!.has(e);
    const nodes = Math.ceil(D / cost.devicesPerNode), bestIn = new Int32Array(nodes);

    const had = (e: number, d: number) => original[e]!.includes(d);
    const inNode = (devs: readonly number[], n: number) => {
      for (const d of devs) if (node(d) === n) return true;
      return false;
    };
    const nearestCopy = (e: number, to: number, from: readonly number[]) => (had(e, to) ? 0 : copyMs(inNode(from, node(to))));
    // The least-loaded device holding bestIn for its node, over the nodes `mode` admits: 0 any,
    // 1 the busiest device's node, 2 nodes holding the hot expert, 3 nodes without it.
    const lightest = (mode: number, busiestNode: number, hotNodes: Set<number>) => {
      let best = -1;
      for (let n = 0; n < nodes; n++) {
        const d = bestIn[n]!;
        if (d < 0) continue;
        if ((mode === 1 && n !== busiestNode) || (mode === 2 && !hotNodes.has(n)) || (mode === 3 && hotNodes.has(n))) continue;
        if (best < 0 || tr.load[d]! < tr.load[best]!) best = d;
      }
      return best;
    };
    while (steps < maxOps) {
      let busiest = 0;
      for (let d = 1; d < D; d++) if (tr.load[d]! > tr.load[busiest]!) busiest = d;
      // The expert weighing most on the busiest device, and the paper's hottest by load per replica.
      let onBusiest = -1, onBusiestShare = -1, hottest = 0;
      for (const e of hosts[busiest]!) {
        const share = tr.shareOn(busiest, expertLoad[e]!, reps[e]!);
        if (share > onBusiestShare) [onBusiest, onBusiestShare] = [e, share];
      }
      for (let e = 1; e < E; e++) if (expertLoad[e]! / reps[e]!.length > expertLoad[hottest]! / reps[hottest]!.length) hottest = e;
      // The all-to-all bottleneck: the device slowest to send or receive; the expert putting the most
      // tokens on its slow links (received from nodes without a replica, or sent to one in another node).
      let linkBound = 0, linkMs = -1, linkRecv = true;
      for (let d = 0; d < D; d++) {
        const send = tr.sendMs(d, u), recv = tr.recvMs(d, u);
        if (Math.max(send, recv) > linkMs) [linkBound, linkMs, linkRecv] = [d, Math.max(send, recv), recv >= send];
      }
      let remote = -1, remoteTokens = 0;
      if (linkRecv) {
        for (const e of hosts[linkBound]!) {
          const away = tr.awayShare(expertLoad[e]!, reps[e]!);
          if (away > remoteTokens) [remote, remoteTokens] = [e, away];
        }
      } else {
        const linkNode = node(linkBound);
        for (let e = 0; e < E; e++) if (expertLoad[e]! > remoteTokens && !inNode(reps[e]!, linkNode)) [remote, remoteTokens] = [e, expertLoad[e]!];
      }

      const cands: Cand[] = [];
      for (const hot of new Set([onBusiest, hottest, remote])) {
        if (hot < 0) continue;
        const hotReps = reps[hot]!;
        const hotNodes = new Set(hotReps.map(node));
        // The least-loaded device with a free slot for `hot` in each node, in one pass over the
        // devices; every target below is a minimum over some of these (ties: lowest device).
        bestIn.fill(-1);
        for (let d = 0; d < D; d++) {
          if (!free(d, hot)) continue;
          const n = node(d), b = bestIn[n]!;
          if (b < 0 || tr.load[d]! < tr.load[b]!) bestIn[n] = d;
        }
        const busiestNode = node(busiest);
        const targets = new Set([0, 1, 2, 3].map((mode) => lightest(mode, busiestNode, hotNodes)));
        targets.delete(-1);
        for (const g of targets) cands.push({ changes: [[hot, [...hotReps, g]]], moveMs: nearestCopy(hot, g, hotReps), n: 1 });
        // One more replica in every node lacking one (cover), or in every node (spread), at once.
        for (const all of [false, true]) {
          const more: number[] = [];
          for (let n = 0; n < nodes; n++) if ((all || !hotNodes.has(n)) && bestIn[n]! >= 0) more.push(bestIn[n]!);
          // The copies run in parallel; any into a node without the expert crosses the slow link.
          let allHad = true, allNear = true;
          for (const g of more) {
            allHad &&= had(hot, g);
            allNear &&= hotNodes.has(node(g));
          }
          const moveMs = allHad ? 0 : copyMs(allNear);
          if (more.length > 1) cands.push({ changes: [[hot, [...hotReps, ...more]]], moveMs, n: more.length });
        }
        if (targets.size === 0) {
          // Shrink the coldest replicated expert on a device without the hot one, then expand there.
          let cold = -1;
          for (let e = 0; e < E; e++) {
            if (e === hot || reps[e]!.length < 2) continue;
            let room = false;
            for (const d of reps[e]!) room ||= !hosts[d]!.has(hot);
            if (!room) continue;
            if (cold < 0 || expertLoad[e]! / reps[e]!.length < expertLoad[cold]! / reps[cold]!.length) cold = e;
          }
          if (cold >= 0) {
            let g = -1;
            for (const d of reps[cold]!) if (!hosts[d]!.has(hot) && (g < 0 || tr.load[d]! > tr.load[g]!)) g = d;
            cands.push({
              changes: [[cold, reps[cold]!.filter((d) => d !== g)], [hot, [...hotReps, g]]],
              moveMs: nearestCopy(hot, g, hotReps),
              n: 2,
            });
          }
        }
      }
      // Migrate one replica from the busiest device to the least-loaded device with a free slot.
      let idle = -1;
      for (let d = 0; d < D; d++) if (d !== busiest && hosts[d]!.size < S && (idle < 0 || tr.load[d]! < tr.load[idle]!)) idle = d;
      if (idle >= 0) {
        const gap = tr.load[busiest]! - tr.load[idle]!;
        let best = -1, bestShare = 0;
        for (const e of hosts[busiest]!) {
          if (hosts[idle]!.has(e)) continue;
          const share = tr.shareOn(busiest, expertLoad[e]!, reps[e]!);
          if (share < gap && Math.abs(gap / 2 - share) < Math.abs(gap / 2 - bestShare)) [best, bestShare] = [e, share];
        }
        if (best >= 0) {
          const after = reps[best]!.map((d) => (d === busiest ? idle : d));
          cands.push({ changes: [[best, after]], moveMs: had(best, idle) ? 0 : copyMs(node(busiest) === node(idle)), n: 1 });
        }
      }
      if (!cands.length) break;
      let pick: Cand | null = null, pickTrial: Trial | null = null, pickValue = Infinity;
      for (const c of cands) {
        const t = trial(c.changes);
        const v = t.value + c.moveMs / horizon;
        if (v < pickValue) {
          release(pickTrial);
          [pick, pickTrial, pickValue] = [c, t, v];
        } else release(t);
      }
      if (!pick || !pickTrial || pickValue >= current - eps) break;
      for (const [e, after] of pick.changes) {
        for (const d of reps[e]!) hosts[d]!.delete(e);
        for (const d of after) hosts[d]!.add(e);
        reps[e] = after;
      }
      release({ tr, sync, value: current });
      tr = pickTrial.tr;
      sync = pickTrial.sync;
      steps += pick.n;
      current = pickTrial.value;
    }
    return reps;
  };

  // Up to three climbs: from the current placement; from a reset that keeps one replica of each
  // expert where it is (slots held by replicas of experts that have cooled are otherwise never
  // freed when a new hot expert needs many); and from a fresh round-robin deal, because after the
  // hot set moves both of the others still carry the old hot experts' spread and the climb spends
  // its moves patching it (simulator, 16 skewed runs: steady flexmoe/oracle 0.76 → 0.80). Each is
  // priced with its whole migration; the best wins if it beats standing still (on the estimate,
  // and on each of `eachStep` when given).
  // A set of replicas scored on some loads (the estimate, or one step's), as the climb scores them.
  const scoreOn = (loads: Float64Array, reps: readonly number[][]) => {
    const { tr, sync } = stateOf(reps, loads);
    return objective(tr, sync);
  };
  const price = (reps: number[][]) => {
    const hosts: number[][] = Array.from({ length: D }, () => []);
    reps.forEach((r, e) => r.forEach((d) => hosts[d]!.push(e)));
    const ops = pairMigrations(placement.diff(new Placement(D, S, E, hosts)));
    const moveMs = (migrationMs(ops, placement, cost) + (cost.planOverheadMs ?? 0)) / horizon;
    return { ops, reps, moveMs, value: scoreOn(expertLoad, reps) + moveMs };
  };
  let stayOn: number[] | null = null;
  const paysOnEach = (p: { reps: number[][]; moveMs: number }) => {
    stayOn ??= eachStep.map((h) => scoreOn(h, original));
    return eachStep.every((h, i) => stayOn![i]! - scoreOn(h, p.reps) - p.moveMs >= minGain * (stayOn![i]! + (cost.unmodelledMs ?? 0)));
  };
  const stay = scoreOn(expertLoad, original);
  // A plan must beat standing still by `minGain` of the whole step, the part no placement changes included.
  const bar = stay - minGain * (stay + (cost.unmodelledMs ?? 0));
  // No placement scores below perfectly even expert compute with no all-to-all and no all-reduce.
  // When even that would not beat standing still by `minGain`, no climb can: return at once. Exact
  // (the climbs would find nothing), and cheap where it matters: under a lasting imbalance that no
  // move pays for, the trigger stays armed and the planner runs every step.
  let total = 0;
  for (let e = 0; e < E; e++) total += expertLoad[e]!;
  if (bound && (total / D) * u.expertMsPerToken >= bar) return [];
  const reset = original.map((r) => [r[0]!]);
  const starts = original.every((r) => r.length === 1) ? [original] : [original, reset]; // no replicas: the reset is where we are
  const fresh = Placement.roundRobin(D, S, E).replicas();
  const same = (a: number[][], b: number[][]) => a.every((r, e) => r.length === b[e]!.length && r.every((d, i) => d === b[e]![i]));
  if (!starts.some((st) => same(st, fresh))) starts.push(fresh);
  if (globalStart) {
    const { phy2log } = rebalanceExperts(Array.from(expertLoad), D * S, 1, 1, D);
    const byExpert: number[][] = Array.from({ length: E }, () => []);
    phy2log.forEach((e, slot) => {
      const d = Math.floor(slot / S);
      if (!byExpert[e]!.includes(d)) byExpert[e]!.push(d);
    });
    starts.push(byExpert.map((r) => r.sort((a, b) => a - b)));
  }
  // The climbs' plans that beat standing still on the estimate, best first; the first that also
  // pays on each of `eachStep` wins (pricing each step only as far as needed).
  const plans = starts.map((start) => price(climb(start))).filter((p) => p.ops.length && p.value < bar - 1e-9);
  plans.sort((a, b) => a.value - b.value);
  return plans.find(paysOnEach)?.ops ?? [];
}
