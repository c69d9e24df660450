import assert from 'node:assert/strict';
import { balancedPacking, rebalanceExperts, replicateExperts } from '../src/sched/eplb.js';
import { allReduceMs, clusterA100, stepCost, unitCosts, type CostProfile } from '../src/sched/cost.js';
import { balanceRatio, deviceLoads, Placement, withShadows } from '../src/sched/placement.js';
import { shadowSelection } from '../src/sched/policies/fastermoe.js';
import { flexmoePolicy, makePolicy } from '../src/sched/policies/index.js';
import { eplbPolicy } from '../src/sched/policies/eplb.js';
import type { LoadView, Policy } from '../src/sched/policy.js';
import { LayerScheduler } from '../src/sched/pipeline.js';
import { planFlexMoE } from '../src/sched/planner.js';
import { trafficOf } from '../src/sched/traffic.js';
import { calibrate } from '../src/sched/calibrate.js';
import { calibrationRouting, calibrationRun, calibrationSizes, fitModelStep, measureModelStep, replicatedExperts } from '../src/train/calibrate-step.js';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import { parseWorkload, SyntheticWorkload } from '../src/sched/workload.js';
import { expertTotals } from '../src/sched/policy.js';
import { Rng } from '../src/nn/random.js';

/** One view through the scheduling pipeline (estimate, trigger, decide), as the simulator and the scheduler actor run it. */
const once = (policy: Policy, view: LoadView, placement: Placement, cost: CostProfile) => new LayerScheduler(policy, () => placement, () => cost).next(view);

const rows = (...r: number[][]) => r.map((x) => Float64Array.from(x));

describe('placement table', () => {
  it('round-robin, replicas, device loads and the balance ratio', () => {
    const p = Placement.roundRobin(2, 3, 4);
    assert.deepEqual(p.hosts, [[0, 2], [1, 3]]);
    p.apply([{ op: 'expand', expert: 0, device: 1 }]);
    assert.deepEqual(p.replicasOf(0), [0, 1]);
    assert.equal(p.version, 1);
    const loads = deviceLoads([100, 10, 20, 30], p);
    assert.deepEqual(Array.from(loads), [50 + 20, 50 + 10 + 30]);
    assert.equal(balanceRatio(loads), 90 / 80);
    // A step that shadowed expert 2 (FasterMoE) computed it on both devices.
    assert.deepEqual(Array.from(deviceLoads([100, 10, 20, 30], withShadows(p, [2]))), [50 + 10, 50 + 10 + 10 + 30]);
    assert.equal(withShadows(p, []), p);
  });

  it('refuses impossible ops with the reason', () => {
    const p = Placement.roundRobin(2, 2, 4);
    assert.throws(() => p.apply([{ op: 'expand', expert: 1, device: 0 }]), /no free slot/);
    assert.throws(() => p.apply([{ op: 'shrink', expert: 0, device: 0 }]), /cannot drop the last replica/);
    assert.throws(() => p.applyBatch([{ op: 'shrink', expert: 0, device: 0 }]), /leaves 1 experts without a replica/);
    assert.throws(() => new Placement(2, 1, 3, [[0], [1]]), /2 devices × 1 slots cannot hold 3 experts/);
  });

  it('applyBatch takes a whole plan atomically (a swap through full slots)', () => {
    const p = Placement.roundRobin(2, 1, 2);
    p.applyBatch([{ op: 'migrate', expert: 0, from: 0, to: 1 }, { op: 'migrate', expert: 1, from: 1, to: 0 }]);
    assert.deepEqual(p.hosts, [[1], [0]]);
  });
});

describe('cost model', () => {
  const unit: CostProfile = { ...clusterA100, name: 'unit', devicesPerNode: 1, intraNodeGBps: 1, interNodeGBps: 1, expertTflops: 1, denseTflops: 1, dModel: 1, dFF: 1, bytesPerValue: 1, denseFlopsPerToken: 0, training: false };

  it('prices compute, all-to-all and padding by hand', () => {
    const u = unitCosts(unit); // 4 FLOPs per token at 1 TFLOP/s; 1 byte per token over 1 GB/s
    const p = Placement.roundRobin(2, 2, 2);
    const counts = rows([6, 2], [4, 8]); // expert 0 totals 10 on device 0, expert 1 totals 10 on device 1
    const c = stepCost(counts, p, unit);
    assert.equal(c.computeMs, 10 * u.expertMsPerToken);
    // device 0 sends 2 tokens to device 1 and receives 4: the slower side, 2 passes at inference …
    assert.equal(c.a2aMs, 2 * u.linkMs(4, false));
    assert.equal(u.expertMsPerToken, 4e-9, 'inference: two matmuls forward, 4·d·f FLOPs');
    // … 4 passes and three times the compute in training (backward retraces both)
    const train = stepCost(counts, p, { ...unit, training: true });
    assert.equal(train.a2aMs, 4 * u.linkMs(4, false));
    assert.ok(Math.abs(train.computeMs - 3 * c.computeMs) < 1e-18, `${train.computeMs} vs 3 × ${c.computeMs}`);
    const padded = stepCost(rows([9, 0], [9, 1]), p, unit, { mode: 'padMax' });
    assert.equal(padded.computeMs, 18 * u.expertMsPerToken, 'every expert buffer padded to the largest (18)');
    assert.equal(padded.balanceRatio, 18 / 9.5, 'balance is measured on real tokens (18 and 1)');
  });

  it('capacity drops what exceeds ⌈factor·assignments/E⌉ per source', () => {
    const p = Placement.roundRobin(2, 1, 2);
    const c = stepCost(rows([9, 1], [5, 5]), p, unit, { mode: 'capacity', factor: 1, topk: 1 });
    assert.equal(c.droppedTokens, 4); // source 0: capacity 5, expert 0 gets 9
  });

  it('locality-first split keeps tokens on a device that holds a replica', () => {
    const p = new Placement(2, 2, 1, [[0], [0]]);
    const even = stepCost(rows([10], [10]), p, unit, { mode: 'split' });
    const local = stepCost(rows([10], [10]), p, unit, { mode: 'split', locality: true });
    assert.ok(even.a2aMs > 0);
    assert.equal(local.a2aMs, 0);
    assert.equal(local.computeMs, even.computeMs);
  });

  it('topology-aware split: a source without a replica sends to the replicas in its own node', () => {
    // Two nodes of two devices; expert 0 on devices 0 and 2 (one per node), expert 1 on device 1 only.
    const topo = { ...unit, devicesPerNode: 2, intraNodeGBps: 100, interNodeGBps: 1 };
    const p = new Placement(4, 2, 2, [[0], [1], [0], []]);
    const counts = rows([0, 0], [8, 0], [0, 0], [8, 0]); // only expert 0 traffic, from devices 1 and 3
    const c = stepCost(counts, p, topo, { mode: 'split', locality: true });
    assert.deepEqual(Array.from(c.deviceTokens), [8, 0, 8, 0], 'each source feeds the replica in its node');
    const u = unitCosts(topo);
    assert.equal(c.a2aMs, 2 * u.linkMs(8, true), 'nothing crosses the slow link');
    const even = stepCost(counts, p, topo, { mode: 'split' });
    assert.equal(even.a2aMs, 2 * (u.linkMs(4, true) + u.linkMs(4, false)), 'an even split sends half over the slow link');
  });

  it('the planner\'s traffic model agrees with the cost model when sources are alike', () => {
    const topo = { ...clusterA100, devicesPerNode: 2 };
    const p = new Placement(6, 3, 5, [[0, 1], [0, 2], [3], [0, 4], [1], [2]]);
    const load = [600, 120, 60, 30, 18];
    const counts = Array.from({ length: 6 }, () => Float64Array.from(load, (v) => v / 6));
    for (const locality of [true, false]) {
      const c = stepCost(counts, p, topo, { mode: 'split', locality });
      const t = trafficOf(load, p.replicas(), { devices: 6, devicesPerNode: 2, locality });
      Array.from(t.load).forEach((v, d) => assert.ok(Math.abs(v - c.deviceTokens[d]!) < 1e-9, `locality ${locality}, device ${d}: ${v} vs ${c.deviceTokens[d]}`));
      const u = unitCosts(topo);
      const a2a = t.a2aMs(u);
      assert.ok(Math.abs(4 * a2a - c.a2aMs) < 1e-12, `locality ${locality}: all-to-all ${4 * a2a} vs ${c.a2aMs}`);
    }
  });

  it('a collective a placement adds costs its members collectiveMs each (replica buckets, shadow groups)', () => {
    const profile = { ...clusterA100, collectiveMs: 0.5 };
    const counts = rows([10, 10, 10, 10], [10, 10, 10, 10], [10, 10, 10, 10], [10, 10, 10, 10]);
    const sync = (p: Placement, dispatch?: Parameters<typeof stepCost>[3], prof: CostProfile = profile) => stepCost(counts, p, prof, dispatch).syncMs;
    // Experts 0 and 1 both on devices {0, 1}: one gradient bucket for the set; expert 2 on every device: the dense all-reduce.
    const p = new Placement(4, 4, 4, [[0, 1, 2], [0, 1, 2], [2], [2, 3]]);
    const bandwidth = sync(p, { mode: 'split' }, clusterA100);
    assert.ok(Math.abs(sync(p, { mode: 'split' }) - (bandwidth + 0.5)) < 1e-12, 'devices 0 and 1 join one extra all-reduce');
    // A shadowed expert: weights out and gradients back, one collective each, over its root and the devices without it.
    const r = Placement.roundRobin(4, 2, 4);
    const shadowBandwidth = sync(r, { mode: 'shadow', shadows: [0, 1] }, clusterA100);
    assert.ok(Math.abs(sync(r, { mode: 'shadow', shadows: [0] }) - (sync(r, { mode: 'shadow', shadows: [0] }, clusterA100) + 2 * 0.5)) < 1e-12);
    // Experts 0 and 1 travel between the same devices (each root and the three without it): one group, one pair of collectives.
    assert.ok(Math.abs(sync(r, { mode: 'shadow', shadows: [0, 1] }) - (shadowBandwidth + 2 * 0.5)) < 1e-12);
    // A replica bucket and a shadow group are different collectives, even over the same devices.
    assert.ok(Math.abs(sync(p, { mode: 'shadow', shadows: [3] }) - (sync(p, { mode: 'shadow', shadows: [3] }, clusterA100) + 3 * 0.5)) < 1e-12);
    // Serving ships the weights alone.
    const serving = { ...profile, training: false };
    assert.ok(Math.abs(sync(r, { mode: 'shadow', shadows: [0] }, serving) - (sync(r, { mode: 'shadow', shadows: [0] }, { ...clusterA100, training: false }) + 0.5)) < 1e-12);
    // Round-robin, nothing shadowed: no collective beyond those every step runs.
    assert.equal(sync(r, { mode: 'split' }), sync(r, { mode: 'split' }, clusterA100));
  });

  it('a device pays each expert buffer it computes once (expertCallMs), whatever its rows', () => {
    const p = Placement.roundRobin(2, 2, 4); // device 0: experts 0 and 2; device 1: 1 and 3
    const counts = rows([30, 10, 0, 10], [30, 10, 0, 10]); // expert 2 gets no rows
    const profile = { ...clusterA100, expertCallMs: 2 };
    const u = unitCosts(profile);
    const c = stepCost(counts, p, profile, { mode: 'split' });
    // Device 0: 60 rows in one buffer; device 1: 40 rows in two.
    assert.ok(Math.abs(c.computeMs - Math.max(60 * u.expertMsPerToken + 2, 40 * u.expertMsPerToken + 4)) < 1e-12);
    // Padded, every hosted expert computes a buffer of the largest expert's rows.
    const padded = stepCost(counts, p, profile, { mode: 'padMax' });
    assert.ok(Math.abs(padded.computeMs - (2 * 60 * u.expertMsPerToken + 4)) < 1e-12);
    assert.equal(stepCost(counts, p, clusterA100, { mode: 'split' }).computeMs, 60 * u.expertMsPerToken, 'absent, time is proportional to rows');
  });

  it('a device pays for every expert it holds in training (expertHeldMs), rows or not, and for every shadow of its group; serving does not', () => {
    const counts = rows([30, 10, 0, 10], [30, 10, 0, 10]);
    const profile = { ...clusterA100, expertHeldMs: 3 };
    const sync = (p: Placement, prof: CostProfile = profile) => stepCost(counts, p, prof, { mode: 'split' }).syncMs;
    const rr = Placement.roundRobin(2, 4, 4);
    assert.equal(sync(rr), 2 * 3, 'two experts on each device');
    // A replica of expert 2 (no rows this step) on device 1: three held there, and its gradients all-reduced.
    const replicated = new Placement(2, 4, 4, [[0, 2], [1, 3, 2]]);
    assert.ok(Math.abs(sync(replicated) - (3 * 3 + allReduceMs([0, 1], profile))) < 1e-12, String(sync(replicated)));
    assert.equal(sync(rr, { ...profile, training: false }), 0, 'serving runs no optimizer');
    // Shadowing expert 0 (on device 0): a copy held on device 1 for the step, the original's gradients summed on device 0.
    const shadowed = (prof: CostProfile) => stepCost(counts, rr, prof, { mode: 'shadow', shadows: [0] }).syncMs;
    assert.ok(Math.abs(shadowed(profile) - shadowed({ ...profile, expertHeldMs: 0 }) - 3 * 3) < 1e-9, 'both devices of its group pay it once more');
    assert.equal(sync(rr, clusterA100), 0, 'absent, nothing');
  });

  it('replica all-reduce is hierarchical: within nodes, then across nodes on every replica\'s own link', () => {
    const topo = { ...clusterA100, devicesPerNode: 4 };
    const u = unitCosts(topo);
    const P = u.paramBytes;
    assert.equal(allReduceMs([0], topo), 0);
    assert.equal(allReduceMs([0, 1], topo), u.linkMs(P, true), 'one node: a ring of two moves P per link');
    assert.equal(allReduceMs([0, 4], topo), u.linkMs(P, false), 'two nodes, one replica each: P over the slow link');
    // Two replicas in each of two nodes: P within, then each replica carries half across.
    assert.equal(allReduceMs([0, 1, 4, 5], topo), u.linkMs(P, true) + u.linkMs(P / 2, false));
    // The node with the fewest replicas sets the pace across.
    assert.equal(allReduceMs([0, 1, 2, 4], topo), u.linkMs((4 * P) / 3, true) + u.linkMs(P, false));
    assert.equal(allReduceMs([0, 4], { ...topo, training: false }), 0, 'inference has no gradients');
    // A measured all-reduce bandwidth below the link's sets the pace (this machine's collectives).
    assert.equal(allReduceMs([0, 1], { ...topo, allReduceGBps: 0.5 }), P / (0.5 * 1e6));
  });
});

describe('DeepSeek EPLB port', () => {
  it('reproduces the published example (DeepSeek EPLB, README: 12 experts, 16 slots, 4 groups, 2 nodes, 8 GPUs)', () => {
    const layer0 = [90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86];
    const layer1 = [20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27];
    assert.deepEqual(rebalanceExperts(layer0, 16, 4, 2, 8).phy2log, [5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1]);
    assert.deepEqual(rebalanceExperts(layer1, 16, 4, 2, 8).phy2log, [7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1]);
  });

  it('as a policy: the global form unless the model has expert groups; groups are not the nodes', () => {
    // 16 experts, 8 devices in 2 nodes, 3 slots each; the 4 hot experts all sit in the first half.
    const weight = Float64Array.from({ length: 16 }, (_, e) => (e < 4 ? 100 : 10));
    const view: LoadView = { step: 0, history: [weight], current: rows(...Array.from({ length: 8 }, () => Array.from(weight, (w) => w / 8))), topk: 2 };
    const cost = { ...clusterA100, devicesPerNode: 4 };
    const planned = (groups?: number) => {
      const p = Placement.roundRobin(8, 3, 16);
      p.applyBatch(once(eplbPolicy({ groups }), view, p, cost));
      return balanceRatio(deviceLoads(weight, p));
    };
    const global = planned(), byNodes = planned(2), sixteen = planned(16);
    // Two groups over two nodes pins experts 0–7 to node 0, hot ones and all.
    assert.ok(byNodes > 1.5, `groups = nodes: ${byNodes}`);
    assert.ok(global < 1.15 && global <= sixteen && sixteen < byNodes, `global ${global}, 16 groups ${sixteen}, 2 groups ${byNodes}`);
  });

  it('two replicas of one expert on one device are counted: tokens split per replica (hand-computed from eplb.py)', () => {
    // 3 experts, 2 devices × 3 slots. Replication: e0 gets 3 replicas (10/3 each), e1 2 (2 each),
    // e2 1. Packing heaviest first (stable on ties): device 0 takes e0, e0, e2; device 1 e0, e1, e1.
    const weight = [10, 4, 1];
    assert.deepEqual(rebalanceExperts(weight, 6, 1, 1, 2).phy2log, [0, 0, 2, 0, 1, 1]);
    const view: LoadView = { step: 0, history: [Float64Array.from(weight)], current: rows([5, 2, 0.5], [5, 2, 0.5]), topk: 1 };
    const policy = eplbPolicy({ locality: false });
    const p = Placement.roundRobin(2, 3, 3);
    p.applyBatch(once(policy, view, p, clusterA100));
    assert.deepEqual(p.hosts.map((h) => [...h].sort()), [[0, 2], [0, 1]]);
    const c = stepCost(view.current, p, clusterA100, policy.dispatch(view, p, clusterA100));
    // Per replica: device 0 = 2·10/3 + 1, device 1 = 10/3 + 2·2. Per device (one share each) it was 6 and 9.
    assert.ok(Math.abs(c.deviceTokens[0]! - (20 / 3 + 1)) < 1e-9 && Math.abs(c.deviceTokens[1]! - (10 / 3 + 4)) < 1e-9, String(c.deviceTokens));
    const perDevice = stepCost(view.current, p, clusterA100, { mode: 'split' });
    assert.deepEqual(Array.from(perDevice.deviceTokens), [6, 9]);
  });

  it('replicates by load per replica and packs heaviest-first into the lightest pack with room', () => {
    assert.deepEqual(replicateExperts([10, 4, 1], 5), { phy2log: [0, 1, 2, 0, 0], rank: [0, 0, 0, 1, 2], count: [3, 1, 1] });
    assert.deepEqual(balancedPacking([5, 4, 3, 2], 2), { pack: [0, 1, 1, 0], rank: [0, 0, 1, 1] });
  });
});

describe('FasterMoE shadowing', () => {
  it('shadows while the next expert plus the weight transfers beats the current bound (hand-computed)', () => {
    // Unit profile: comp = 4 ms per token per GEMM pass, 1 ms per token sent, 2 ms per expert's weights.
    const p: CostProfile = { ...clusterA100, expertTflops: 1e-9, dModel: 1, dFF: 1, bytesPerValue: 1, interNodeGBps: 1e-6, training: true };
    const u = unitCosts(p);
    assert.equal(u.expertMsPerToken / 3, 4);
    assert.equal(u.linkMs(u.tokenBytes, false), 1);
    assert.equal(u.linkMs(u.paramBytes, false), 2);
    // lat(1000) = 3·4·1000 + 4·1000 = 16000; shadow 0 → 16·100 + 2 = 1602 < 16000 ✓;
    // shadow 1 → 16·90 + 4 = 1444 < 1602 ✓; shadow 2 → 16·89 + 6 = 1430 < 1444 ✓; stop at the cap of 3.
    assert.deepEqual(shadowSelection(Float64Array.from([90, 1000, 89, 100, 1]), p, 3), [1, 3, 0]);
    // Without a cap it stops where the next expert no longer pays: 16·1 + 8 = 24 < 1430 ✓ → all but the last.
    assert.deepEqual(shadowSelection(Float64Array.from([90, 1000, 89, 100, 1]), p, 10), [1, 3, 0, 2]);
    assert.deepEqual(shadowSelection(Float64Array.from([10, 10, 10]), p, 10), [], 'uniform: nothing pays');
  });
});

describe('FlexMoE policy', () => {
  const view = (step: number, history: Float64Array[]): LoadView => ({ step, history, current: [], topk: 1 });

  it('expands the hot expert into free slots until the cost model stops paying', () => {
    const p = Placement.roundRobin(4, 2, 4);
    const ops = planFlexMoE(Float64Array.from([40_000, 100, 100, 100]), p, { ...clusterA100, devicesPerNode: 4 }, { horizon: 25 });
    assert.ok(ops.length >= 3, `${ops.length} ops`);
    assert.ok(ops.every((o) => o.op === 'expand' ? o.expert === 0 : true));
    p.applyBatch(ops);
    assert.equal(p.replicasOf(0).length, 4);
  });

  it('returns at once when even perfectly even compute could not pay, planning exactly as the full climb does', () => {
    const rng = new Rng(11);
    // The climbs deal a fresh round-robin placement as one of their starts: counting those deals
    // tells a plan that returned at once from one that climbed.
    const deal = Placement.roundRobin;
    let deals = 0;
    Placement.roundRobin = (...a: Parameters<typeof deal>) => (deals++, deal.apply(Placement, a));
    try {
      let early = 0;
      for (let i = 0; i < 200; i++) {
        const D = [2, 4, 8][rng.int(3)]!, E = D * (1 + rng.int(3)), S = 2 * (E / D);
        const skew = rng.next() * 1.5;
        const loads = Float64Array.from({ length: E }, (_, e) => Math.round(4096 / (1 + e) ** skew * (0.8 + 0.4 * rng.next())));
        const p = deal.call(Placement, D, S, E);
        const cost = { ...clusterA100, devicesPerNode: rng.int(2) ? D : Math.max(1, D / 2), unmodelledMs: rng.next() * 20 };
        const before = deals;
        const fast = planFlexMoE(loads, p, cost, { horizon: 25 });
        if (deals === before) early++;
        assert.deepEqual(fast, planFlexMoE(loads, p, cost, { horizon: 25, bound: false }), `case ${i}`);
      }
      assert.ok(early > 20 && early < 180, `${early} of 200 returned at once`);
    } finally {
      Placement.roundRobin = deal;
    }
  });

  it('shrinks the coldest replicated expert to make room when slots are full', () => {
    const p = new Placement(2, 2, 3, [[0, 1], [2, 1]]);
    const ops = planFlexMoE(Float64Array.from([50_000, 10, 100]), p, { ...clusterA100, devicesPerNode: 2 }, { horizon: 25 });
    assert.deepEqual(ops.slice(0, 2), [{ op: 'shrink', expert: 1, device: 1 }, { op: 'expand', expert: 0, device: 1 }]);
  });

  it('frees the slots of experts that cooled when a new expert turns hot', () => {
    // Two nodes of two devices. Expert 0 has cooled but holds a replica on three devices; expert 3
    // is now hot on device 3 alone. One shrink-and-expand at a time cannot pay (the first replica
    // in the other node costs a whole all-reduce over the slow link); a plan from scratch can.
    const p = new Placement(4, 2, 4, [[0], [1, 0], [2, 0], [3, 0]]);
    const ops = planFlexMoE(Float64Array.from([100, 0, 37, 13_048]), p, { ...clusterA100, devicesPerNode: 2 }, { horizon: 25 });
    p.applyBatch(ops);
    assert.deepEqual(p.replicasOf(3), [0, 1, 2, 3], `${p}`);
    assert.deepEqual(p.replicasOf(0), [0], `${p}`);
  });

  it('puts a hot expert in every node so its tokens stay off the slow links', () => {
    const p = Placement.roundRobin(8, 2, 8);
    const load = Float64Array.from([200_000, 100, 100, 100, 100, 100, 100, 100]);
    p.applyBatch(planFlexMoE(load, p, { ...clusterA100, devicesPerNode: 4 }, { horizon: 25 }));
    const nodes = new Set(p.replicasOf(0).map((d) => Math.floor(d / 4)));
    assert.deepEqual([...nodes].sort(), [0, 1], `${p}`);
  });

  it('keeps the placement when a plan would gain less than minGain (no chasing of wobble)', () => {
    const load = Float64Array.from([120233, 183996, 184803, 104731, 152030, 150941, 157886, 137065]);
    const cost = { ...clusterA100, devicesPerNode: 4 };
    const eager = planFlexMoE(load, Placement.roundRobin(4, 3, 8), cost, { horizon: 25, minGain: 0 });
    assert.deepEqual(eager, [{ op: 'expand', expert: 2, device: 3 }], 'a small gain exists');
    assert.deepEqual(planFlexMoE(load, Placement.roundRobin(4, 3, 8), cost, { horizon: 25 }), [], 'under the default 10% it is not worth a plan');
  });

  it('refuses a plan that pays on the average of recent steps but loses on one of them (eachStep)', () => {
    // Two steps whose average makes device 0 look light: a replica of expert 3 there pays on the
    // average and on step a, and costs step b (device 0 already carries b's hottest expert).
    const a = Float64Array.from([4000, 37000, 3000, 20000]), b = Float64Array.from([33000, 26000, 20000, 22000]);
    const mean = a.map((v, e) => (v + b[e]!) / 2);
    const cost = { ...clusterA100, devicesPerNode: 2 };
    const p = Placement.roundRobin(2, 3, 4);
    const plain = planFlexMoE(mean, p, cost, { horizon: 25 });
    assert.deepEqual(plain, [{ op: 'expand', expert: 3, device: 0 }]);
    const ms = (pl: Placement, h: Float64Array) => stepCost([Array.from(h, (v) => v / 2), Array.from(h, (v) => v / 2)], pl, cost, { mode: 'split', locality: true }, 1).stepMs;
    const after = p.clone().applyBatch(plain);
    assert.ok(ms(after, a) < ms(p, a) && ms(after, b) > ms(p, b), 'the plan wins step a and loses step b');
    assert.deepEqual(planFlexMoE(mean, p, cost, { horizon: 25, eachStep: [a, b] }), [], 'it does not pay on each step');
    assert.deepEqual(planFlexMoE(mean, p, cost, { horizon: 25, eachStep: [a] }), plain, 'it pays on step a alone');
    // flexmoe-react asks for it over its window; flexmoe, as the paper, judges on the estimate.
    const view: LoadView = { step: 4, history: [a, b, a, b], current: [], topk: 1 };
    const decide = (o: Parameters<typeof flexmoePolicy>[0]) => once(flexmoePolicy({ riseFactor: Infinity, ...o }), view, Placement.roundRobin(2, 3, 4), cost);
    assert.deepEqual(decide({}), plain);
    assert.deepEqual(decide({ react: true }), []);
    assert.deepEqual(decide({ react: true, eachStep: 0 }), plain);
    assert.throws(() => planFlexMoE(mean, p, cost, { horizon: 25, eachStep: [a, Float64Array.from([1, 2])] }), /eachStep\[1\] has 2 expert loads for 4 experts/);
    assert.throws(() => flexmoePolicy({ react: true, eachStep: -1 }), /eachStep must be a whole number of steps, 0 or more; got -1/);
  });

  it('takes a jump in load at once where the window mean alone would wait, and averages noise', () => {
    const flat = Float64Array.from([1000, 1000, 1000, 1000]), hot = Float64Array.from([5000, 1000, 1000, 1000]);
    const history = [flat, flat, flat, flat, hot];
    const cost = { ...clusterA100, devicesPerNode: 4 };
    const plan = (riseFactor: number, h = history) => once(flexmoePolicy({ riseFactor }), { step: 5, history: h, current: [], topk: 1 }, Placement.roundRobin(4, 2, 4), cost);
    assert.ok(plan(1.5).some((o) => o.op === 'expand' && o.expert === 0), JSON.stringify(plan(1.5)));
    assert.deepEqual(plan(Infinity), [], 'the mean over 5 steps (1800) is not worth a plan yet');
    // 5000 after four steps at 4000 is noise, not a jump: the mean (4200) is the estimate.
    const busy = Float64Array.from([4000, 1000, 1000, 1000]);
    const noisy = plan(1.5, [busy, busy, busy, busy, hot]), mean = plan(Infinity, [busy, busy, busy, busy, hot]);
    assert.deepEqual(noisy, mean);
  });

  it('plans from the last step alone when a surge opens a new regime (no blend of the old and new ranking)', () => {
    const cost = { ...clusterA100, devicesPerNode: 4 };
    const old = Float64Array.from([8000, 4000, 2667, 2000]), shifted = Float64Array.from([4000, 2667, 2000, 8000]);
    const history = [old, old, old, old, shifted];
    const ops = once(flexmoePolicy(), { step: 5, history, current: [], topk: 1 }, Placement.roundRobin(4, 2, 4), cost);
    assert.ok(ops.length > 0);
    assert.deepEqual(ops, planFlexMoE(shifted, Placement.roundRobin(4, 2, 4), cost, { horizon: 25 }));
    // The blended estimate (the 5-step mean, the surging expert taken at once) plans otherwise.
    const blended = Float64Array.from([7200, 3733.4, 2533.4, 8000]);
    assert.notDeepEqual(ops, planFlexMoE(blended, Placement.roundRobin(4, 2, 4), cost, { horizon: 25 }));
  });

  it("flexmoe-react plans from the step's own routing when a surge outgrows its replicas, and only then", () => {
    const cost = { ...clusterA100, devicesPerNode: 4, reactPlanMs: 0 }; // planning charge aside (checked last)
    const react = (current: number[], before = [1000, 1000, 1000, 1000]) => {
      const policy = flexmoePolicy({ react: true });
      const p = Placement.roundRobin(4, 2, 4);
      const history = Array.from({ length: 5 }, () => Float64Array.from(before));
      const load: LoadView = { step: 5, history, current: [Float64Array.from(current)], topk: 1 };
      return { decided: once(policy, load, p, cost), reacted: policy.react!(load, p, cost) };
    };
    const surge = react([6000, 1000, 1000, 1000]);
    assert.deepEqual(surge.decided, [], 'history alone says balanced');
    assert.ok(surge.reacted?.some((o) => o.op === 'expand' && o.expert === 0), JSON.stringify(surge.reacted));
    assert.equal(react([1400, 1000, 1000, 600]).reacted, null, 'a rise under riseFactor (1.5×) is no surge');
    // The same surge, when holding the step costs more than any plan could save this step.
    const p = Placement.roundRobin(4, 2, 4), flat = Float64Array.from([1000, 1000, 1000, 1000]);
    const dear = { ...cost, reactPlanMs: 1e6 };
    assert.equal(flexmoePolicy({ react: true }).react!({ step: 5, history: [flat, flat], current: [Float64Array.from([6000, 1000, 1000, 1000])], topk: 1 }, p, dear), null);
    // Expert 3 rises 4.5× but its 900 fit on one device (fair share 3900 / 4 = 975): no reason to hold the step.
    assert.equal(react([1000, 1000, 1000, 900], [1000, 1000, 1000, 200]).reacted, null);
    assert.equal(flexmoePolicy().react, undefined, 'plain flexmoe plans beside steps only (as live)');
    assert.equal(flexmoePolicy({ react: true }).name, 'flexmoe-react');
  });

  it('no-ops when balanced', () => {
    const policy = flexmoePolicy();
    const p = Placement.roundRobin(4, 2, 8);
    const sched = new LayerScheduler(policy, () => p, () => clusterA100);
    const flat = Float64Array.from({ length: 8 }, () => 1000);
    for (let s = 0; s < 10; s++) assert.deepEqual(sched.next(view(s, [flat])), []);
  });

  it('hysteresis: arms above the threshold, stays quiet between release and threshold', () => {
    const policy = flexmoePolicy({ threshold: 1.5, release: 1.2, horizon: 1e9 }); // huge horizon: moves are cheap
    const p = Placement.roundRobin(2, 2, 2);
    const sched = new LayerScheduler(policy, () => p, () => clusterA100);
    const load = (a: number) => [Float64Array.from([a, 1000])];
    assert.deepEqual(sched.next(view(0, load(1300))), [], 'ratio 1.13 < threshold');
    assert.deepEqual(sched.next(view(1, load(1900))), [], 'ratio 1.31 still below 1.5: no flapping into a plan');
    assert.ok(sched.next(view(2, load(4000))).length > 0, 'ratio 1.6 arms and plans');
  });

  it('a router whose favourite flips every step is not chased: the horizon shrinks to how long the favourite stays', () => {
    const profile = { ...clusterA100, devicesPerNode: 2, intraNodeGBps: 50 };
    const run = (flip: boolean, adaptiveHorizon: boolean) => {
      const placement = Placement.roundRobin(2, 3, 4);
      const sched = new LayerScheduler(flexmoePolicy({ adaptiveHorizon }), () => placement, () => profile);
      const history: Float64Array[] = [];
      let plans = 0;
      for (let step = 0; step < 20; step++) {
        const t = new Float64Array(4).fill(100);
        t[flip ? step % 2 : 0] = 4000;
        history.push(t);
        const ops = sched.next(view(step + 1, history));
        if (ops.length) (plans++, placement.applyBatch(ops));
      }
      return plans;
    };
    assert.equal(run(false, true), 1, 'a steady hot expert: one expand');
    assert.equal(run(true, false), 20, 'with a fixed horizon every plan is obsolete a step later, and it plans every step');
    assert.ok(run(true, true) <= 3, 'adaptive: it stops once the favourite has changed twice');
  });
});

describe('FlexMoE planner, expert buffers', () => {
  it('counts each replica as a buffer more on its device (expertCallMs), as the cost model does', () => {
    const load = Float64Array.from([3000, 1000, 0]);
    const reps = [[0, 1], [1], [0]];
    const topo = { devices: 2, devicesPerNode: 2, locality: true };
    const rows = trafficOf(load, reps, topo).load, withCalls = trafficOf(load, reps, { ...topo, callRows: 50 }).load;
    // Device 0 computes experts 0 and 2, but expert 2 has no rows: one buffer; device 1, two.
    assert.deepEqual([withCalls[0]! - rows[0]!, withCalls[1]! - rows[1]!], [50, 100]);
    const profile = { ...clusterA100, expertCallMs: 0.7 };
    const u = unitCosts(profile);
    const counts = [Float64Array.from([1500, 500, 0]), Float64Array.from([1500, 500, 0])];
    const c = stepCost(counts, new Placement(2, 2, 3, [[0, 2], [0, 1]]), profile, { mode: 'split', locality: true });
    const planner = trafficOf(load, reps, { ...topo, callRows: 0.7 / u.expertMsPerToken }).load;
    assert.ok(Math.abs(c.computeMs - Math.max(...planner) * u.expertMsPerToken) < 1e-9, `${c.computeMs} vs ${Math.max(...planner) * u.expertMsPerToken}`);
  });

  it('adds no replica whose buffer costs more than the balance it buys', () => {
    const load = Float64Array.from([30000, 10000]);
    const plan = (expertCallMs: number) => planFlexMoE(load, Placement.roundRobin(2, 2, 2), { ...clusterA100, devicesPerNode: 2, expertCallMs }, { horizon: 25 });
    assert.ok(plan(0).some((op) => op.op === 'expand' && op.expert === 0), JSON.stringify(plan(0)));
    assert.deepEqual(plan(100), [], 'a buffer of 100 ms outweighs any balance here');
  });

  it('adds no replica whose holding costs more than the balance it buys (expertHeldMs), as the cost model prices it', () => {
    const load = Float64Array.from([30000, 10000]);
    const profile = (expertHeldMs: number) => ({ ...clusterA100, devicesPerNode: 2, expertHeldMs });
    const plan = (held: number) => planFlexMoE(load, Placement.roundRobin(2, 2, 2), profile(held), { horizon: 25 });
    const expanded = plan(0);
    assert.ok(expanded.some((op) => op.op === 'expand' && op.expert === 0), JSON.stringify(expanded));
    // The held cost at which the cost model stops gaining from the replica: the planner stops too.
    const counts = [Float64Array.from([15000, 5000]), Float64Array.from([15000, 5000])];
    const gain = (held: number) => {
      const before = stepCost(counts, Placement.roundRobin(2, 2, 2), profile(held), { mode: 'split', locality: true }).stepMs;
      return before - stepCost(counts, Placement.roundRobin(2, 2, 2).applyBatch(expanded), profile(held), { mode: 'split', locality: true }).stepMs;
    };
    assert.ok(gain(0) > 0);
    const tooMuch = 2 * gain(0);
    assert.ok(gain(tooMuch) < 0, 'the cost model prices the replica\'s holding');
    assert.deepEqual(plan(tooMuch), [], 'and so does the planner');
  });
});

describe('FlexMoE planner, global start', () => {
  it('finds a plan from EPLB\'s where no single replica pays: a mild skew over 64 devices', () => {
    const w = new SyntheticWorkload(parseWorkload('zipf:0.12'), 64, 2, 1, 4096, 1);
    const counts = w.at(0, 64)[0]!;
    const load = expertTotals(counts, 64);
    const stepMs = (p: Placement) => stepCost(counts, p, clusterA100, { mode: 'split', locality: true }, 2).stepMs;
    const greedy = Placement.roundRobin(64, 2, 64);
    assert.deepEqual(planFlexMoE(load, greedy, clusterA100, { horizon: 25 }), [], 'one replica at a time, nothing pays');
    const global = Placement.roundRobin(64, 2, 64);
    const before = stepMs(global);
    const ops = planFlexMoE(load, global, clusterA100, { horizon: 25, globalStart: true });
    global.applyBatch(ops);
    // The plan must beat standing still by minGain (10%) of the step, migration amortised.
    assert.ok(ops.length > 0 && stepMs(global) < 0.9 * before, `${before} → ${stepMs(global)}`);
  });
});

describe('flexmoe-react surge shadows', () => {
  // Unit profile of the FasterMoE test: 12 ms of expert work per token, 1 ms per token sent, cheap weights.
  const p: CostProfile = { ...clusterA100, devicesPerNode: 2, expertTflops: 1e-9, denseTflops: 1e9, dModel: 1, dFF: 1, bytesPerValue: 1, interNodeGBps: 1e-6, intraNodeGBps: 1e-6, training: true };
  const opts = { threshold: 1.1, locality: true };

  it('shadows the expert its replicas cannot absorb while the step gets faster, within the free slots', async () => {
    const { surgeShadows } = await import('../src/sched/surge-shadows.js');
    const placement = Placement.roundRobin(2, 3, 4); // dev 0: experts 0, 2; dev 1: 1, 3; one free slot each
    const hot = [Float64Array.from([500, 10, 10, 10]), Float64Array.from([500, 10, 10, 10])];
    // Shadowing 0 halves the busiest device's work (14280 → 6562 ms); 1 next (10 of its tokens stay
    // on device 0: 6404 ms) uses the last free slot on device 0, and nothing else fits.
    const ms = (shadows: number[]) => stepCost(hot, placement, p, { mode: 'shadow', shadows, locality: true }, 1).stepMs;
    assert.ok(ms([0]) < stepCost(hot, placement, p, { mode: 'split', locality: true }, 1).stepMs && ms([0, 1]) < ms([0]));
    assert.deepEqual(surgeShadows(hot, placement, p, 1, opts), [0, 1]);
    const one = [Float64Array.from([500, 0, 0, 0]), Float64Array.from([500, 0, 0, 0])];
    assert.deepEqual(surgeShadows(one, placement, p, 1, opts), [0], 'only the expert with tokens');
    const even = [Float64Array.from([10, 10, 10, 10]), Float64Array.from([10, 10, 10, 10])];
    assert.deepEqual(surgeShadows(even, placement, p, 1, opts), [], 'balanced: nothing to do');
    // Device 1 full: no room for a copy of expert 0 there; expert 0 replicated on both needs none.
    const full = new Placement(2, 2, 4, [[0, 2], [1, 3]]);
    assert.deepEqual(surgeShadows(hot, full, p, 1, opts), []);
    const both = new Placement(2, 3, 4, [[0, 2], [0, 1, 3]]);
    assert.deepEqual(surgeShadows(hot, both, p, 1, opts), [], 'held by every device already');
  });

  it('its dispatch says shadow on such a step, split otherwise; plain flexmoe never shadows', () => {
    const placement = Placement.roundRobin(2, 3, 4);
    const hot = [Float64Array.from([500, 0, 0, 0]), Float64Array.from([500, 0, 0, 0])];
    const load = { step: 1, history: [], current: hot, topk: 1 };
    assert.deepEqual(flexmoePolicy({ react: true }).dispatch(load, placement, p), { mode: 'shadow', shadows: [0], locality: true });
    assert.deepEqual(flexmoePolicy().dispatch(load, placement, p), { mode: 'split', locality: true });
  });
});

describe('built-in policies', () => {
  it('unknown policy names list the known ones', () => {
    assert.throws(() => makePolicy('magic'), /unknown policy "magic"; known: static, static-unpadded, capacity, fastermoe, eplb, flexmoe, flexmoe-react, oracle/);
  });
});

describe('flexmoe calibrate', () => {
  it('measures compute, channel and all-reduce bandwidth and a collective\'s fixed cost on this machine (no all-reduce bandwidth for serving)', async () => {
    const p = await calibrate({ dModel: 16, dFF: 32, devices: 2, tokens: 64 });
    for (const k of ['expertTflops', 'intraNodeGBps', 'allReduceGBps', 'collectiveMs'] as const) assert.ok(Number.isFinite(p[k]) && p[k]! > 0, `${k} = ${p[k]}`);
    assert.equal(p.devicesPerNode, 2);
    const serving = await calibrate({ dModel: 16, dFF: 32, devices: 2, tokens: 64, allReduce: false });
    assert.equal(serving.allReduceGBps, undefined);
    assert.ok(serving.collectiveMs! > 0, 'serving ships shadows: a collective still has its fixed cost');
    assert.ok(p.expertCallMs !== undefined && Number.isFinite(p.expertCallMs) && p.expertCallMs >= 0, `a buffer's fixed cost: ${p.expertCallMs}`);
  });

  it("measures the model's step time that no placement changes, per MoE layer, from a short run with uniform routing", async () => {
    const p = await calibrate({ dModel: 16, dFF: 32, devices: 2, tokens: 64 });
    const config = { vocab: new CharCorpus(mobyDick()).vocab.size, seq: 8, dModel: 16, heads: 2, dFF: 32, layers: 2, seed: 3, moe: { experts: 4, topk: 2 as const } };
    const m = await measureModelStep(p, { config, devices: 2, batch: 4, steps: 4, warm: 2 });
    assert.ok(m.measuredStepMs > 0 && m.predictedStepMs > 0, JSON.stringify(m));
    // Two MoE layers share what the cost model leaves out of the measured step.
    assert.ok(Math.abs(m.unmodelledMs * 2 - Math.max(0, m.measuredStepMs - m.predictedStepMs)) < 1e-9, JSON.stringify(m));
    assert.ok(Number.isFinite(m.expertTflops) && m.expertTflops > 0 && Number.isFinite(m.expertCallMs) && m.expertCallMs >= 0, JSON.stringify(m));
    // Runs spread over a process (compare --predict, one pair per round) count by their medians.
    const opts = { config, devices: 2, batch: 4, steps: 4, warm: 2 };
    const full = await calibrationRun(opts, 'full'), quarter = await calibrationRun(opts, 'quarter');
    assert.ok(quarter.rows < full.rows, `a quarter batch computes fewer rows: ${quarter.rows} vs ${full.rows}`);
    const fit = fitModelStep(p, opts, [{ ...full, stepMs: 10 }, quarter, { ...full, stepMs: 30 }, { ...full, stepMs: 20 }]);
    assert.equal(fit.measuredStepMs, 20);
    assert.ok(Math.abs(fit.unmodelledMs * 2 - Math.max(0, 20 - fit.predictedStepMs)) < 1e-9, JSON.stringify(fit));
    assert.throws(() => fitModelStep(p, opts, [full]), /fitModelStep: needs a full calibration run and a wide or quarter one, got 1 full, 0 wide and 0 quarter/);
  });

  it('fits the experts\' cost per row and per buffer from a full run and a wide one (the same rows on one expert per device)', async () => {
    const p = await calibrate({ dModel: 16, dFF: 32, devices: 2, tokens: 64 });
    const config = { vocab: new CharCorpus(mobyDick()).vocab.size, seq: 8, dModel: 16, heads: 2, dFF: 32, layers: 2, seed: 3, moe: { experts: 4, topk: 1 as const } };
    const opts = { config, devices: 2, batch: 8, steps: 3, warm: 1 };
    assert.deepEqual(calibrationSizes(opts), ['full', 'wide', 'replicated']);
    assert.deepEqual(calibrationSizes({ config: { ...config, moe: { experts: 2, topk: 1 } }, devices: 2 }), ['full', 'quarter', 'replicated'], 'no fewer experts to put the rows on');
    assert.deepEqual(calibrationSizes({ config: { ...config, moe: { experts: 4, topk: 2 } }, devices: 1 }), ['full', 'wide'], 'at least top-k experts; one device holds no replica');
    const full = await calibrationRun(opts, 'full'), wide = await calibrationRun(opts, 'wide');
    assert.equal(wide.rows, full.rows, 'the same batch and top-k: the same rows');
    assert.ok(wide.buffers <= 4 && wide.buffers < full.buffers, `two experts in each of two layers: ${wide.buffers} buffers against ${full.buffers}`);
    assert.ok(full.updateMs > 0 && wide.updateMs > 0, `every run times its experts' updates: ${full.updateMs}, ${wide.updateMs}`);
    // Times made from a known cost: the fit gives it back. Holding each expert costs a device 0.5 ms
    // outside its experts and exchanges, 0.25 ms of it in the optimizer's update.
    const msPerRow = 0.01, callMs = 0.3, heldMs = 0.5, updateMs = 0.25;
    const made = (r: typeof full) => ({ ...r, expertMs: msPerRow * r.rows + callMs * r.buffers, updateMs: updateMs * r.held });
    const solved = { ...p, expertCallMs: undefined }; // no per-call cost measured: both solved from the runs
    const fit = fitModelStep(solved, opts, [{ ...made(full), otherMs: 10 + heldMs * full.held }, { ...made(wide), otherMs: 10 + heldMs * wide.held }]);
    assert.equal(full.held, 4, 'two experts on each device in each of two layers');
    assert.equal(wide.held, 2);
    assert.ok(Math.abs(fit.expertHeldMs - heldMs) < 1e-9, `heldMs ${fit.expertHeldMs}`);
    assert.equal(fitModelStep(solved, opts, [made(full), { ...made(wide), size: 'quarter' }]).expertHeldMs, updateMs, 'a quarter run holds as many experts: nothing to difference, the updates\' own time stands');
    assert.equal(fitModelStep(solved, opts, [{ ...made(full), updateMs: 0 }, { ...made(wide), size: 'quarter', updateMs: 0 }]).expertHeldMs, 0, 'nothing timed, nothing to fit');
    assert.ok(Math.abs(fit.expertCallMs - callMs) < 1e-9, `callMs ${fit.expertCallMs}`);
    assert.ok(Math.abs((12 * p.dModel * p.dFF) / (fit.expertTflops * 1e9) - msPerRow) < 1e-12, `tflops ${fit.expertTflops}`);
    // A per-call cost measured in one thread (calibrate) is kept, and the rows take the rest.
    assert.ok(p.expertCallMs !== undefined && p.expertCallMs >= 0, `calibrate measures a per-call cost: ${p.expertCallMs}`);
    const kept = fitModelStep({ ...p, expertCallMs: callMs }, opts, [made(full), made(wide)]);
    assert.equal(kept.expertCallMs, callMs);
    assert.ok(Math.abs((12 * p.dModel * p.dFF) / (kept.expertTflops * 1e9) - msPerRow) < 1e-12, `tflops ${kept.expertTflops}`);
    const noisy = fitModelStep({ ...p, expertCallMs: callMs }, opts, [made(full), { ...made(wide), expertMs: made(wide).expertMs + 5 * callMs }]);
    assert.equal(noisy.expertCallMs, callMs, 'noise in one run moves the rows\' cost, not the measured per-call cost');
  });

  it('prices a replica from a run with half the experts on every device, against the full run', async () => {
    const p = await calibrate({ dModel: 16, dFF: 32, devices: 2, tokens: 64 });
    const config = { vocab: new CharCorpus(mobyDick()).vocab.size, seq: 8, dModel: 16, heads: 2, dFF: 32, layers: 2, seed: 3, moe: { experts: 4, topk: 1 as const } };
    const opts = { config, devices: 2, batch: 8, steps: 3, warm: 1 };
    assert.equal(replicatedExperts(opts), 2, 'half of four experts');
    assert.equal(replicatedExperts({ ...opts, slots: 3 }), 2, 'two on both devices, and one of the other two each');
    assert.equal(replicatedExperts({ ...opts, config: { ...config, moe: { experts: 8, topk: 1 } }, slots: 5 }), 2, 'of eight: two replicated and three each');
    assert.equal(replicatedExperts({ ...opts, slots: 2 }), 0, 'no slot to spare');
    assert.equal(replicatedExperts({ ...opts, devices: 1 }), 0);
    const full = await calibrationRun(opts, 'full'), wide = await calibrationRun(opts, 'wide'), replicated = await calibrationRun(opts, 'replicated');
    assert.equal(replicated.rows, full.rows, 'the same batch and routing: the same rows');
    assert.equal(replicated.held, 6, 'two replicated experts on both devices and one more each, in each of two layers: 12 over 2 devices');
    // Two experts' tokens stay home on both devices: up to two buffers more per layer.
    assert.ok(replicated.buffers > full.buffers && replicated.buffers <= full.buffers + 4, `${replicated.buffers} buffers against ${full.buffers}`);
    // Times made from known costs: a buffer costs 0.5 ms live against the probe's 0.3, holding an expert 0.2 ms (0.1 of it its update).
    const msPerRow = 0.05, probe = 0.3, liveCall = 0.5, heldMs = 0.2, updateMs = 0.1;
    const made = (r: typeof full) => ({ ...r, expertMs: msPerRow * r.rows + liveCall * r.buffers, otherMs: 10 + heldMs * r.held, updateMs: updateMs * r.held });
    const fit = fitModelStep({ ...p, expertCallMs: probe }, opts, [made(full), made(wide), made(replicated)]);
    assert.ok(Math.abs(fit.expertCallMs - liveCall) < 1e-9, `the live buffer cost, not the probe's: ${fit.expertCallMs}`);
    assert.ok(Math.abs(fit.expertHeldMs - heldMs) < 1e-9, `held ${fit.expertHeldMs}`);
    assert.ok(Math.abs((12 * p.dModel * p.dFF) / (fit.expertTflops * 1e9) - msPerRow) < 1e-12, `tflops ${fit.expertTflops}`);
    // A noisy difference is bounded by the probe: no cheaper than its cache-warm best, no more than three times it.
    const low = fitModelStep({ ...p, expertCallMs: probe }, opts, [made(full), made(wide), { ...made(replicated), expertMs: made(full).expertMs }]);
    assert.equal(low.expertCallMs, probe);
    const high = fitModelStep({ ...p, expertCallMs: probe }, opts, [made(full), made(wide), { ...made(replicated), expertMs: made(replicated).expertMs + 100 }]);
    assert.ok(Math.abs(high.expertCallMs - 3 * probe) < 1e-12, `${high.expertCallMs}`);
    // So is a noisy difference of the time outside experts, by the updates timed in the runs.
    const cheap = fitModelStep({ ...p, expertCallMs: probe }, opts, [made(full), made(wide), { ...made(replicated), otherMs: made(full).otherMs }]);
    assert.ok(Math.abs(cheap.expertHeldMs - updateMs) < 1e-12, `no cheaper than the update itself: ${cheap.expertHeldMs}`);
    const dear = fitModelStep({ ...p, expertCallMs: probe }, opts, [made(full), made(wide), { ...made(replicated), otherMs: made(replicated).otherMs + 100 }]);
    assert.ok(Math.abs(dear.expertHeldMs - 3 * updateMs) < 1e-12, `no more than three times it: ${dear.expertHeldMs}`);
    // Without replicated runs, the wide runs price holding and the probe the buffer.
    const without = fitModelStep({ ...p, expertCallMs: probe }, opts, [made(full), made(wide)]);
    assert.equal(without.expertCallMs, probe);
    assert.ok(Math.abs(without.expertHeldMs - heldMs) < 1e-9, `${without.expertHeldMs}`);
  });

  it('calibrates a learned router as itself, unskewed, and a synthetic workload on uniform draws', async () => {
    assert.deepEqual(calibrationRouting({ experts: 4, topk: 1, routing: 'zipf:1.5,drift', routerSkew: 0 }), { experts: 4, topk: 1, routing: 'zipf:0', routerSkew: 0 });
    assert.deepEqual(calibrationRouting({ experts: 4, topk: 1, routerSkew: 4 }), { experts: 4, topk: 1, routerSkew: 0 });
    // A router whose initial bias sends nearly every token to one expert calibrates without it.
    const config = { vocab: new CharCorpus(mobyDick()).vocab.size, seq: 8, dModel: 16, heads: 2, dFF: 32, layers: 1, seed: 3, moe: { experts: 4, topk: 1 as const, routerSkew: 4 } };
    const run = await calibrationRun({ config, devices: 2, batch: 8, steps: 2, warm: 1 }, 'full');
    const totals = run.source.at(1, 2)[0]!.reduce((t, row) => t.map((v, e) => v + row[e]!), [0, 0, 0, 0]);
    const share = Math.max(...totals) / totals.reduce((a, b) => a + b, 0);
    assert.ok(share < 0.75, `the hottest expert took ${share.toFixed(2)} of the calibration's tokens (skew 4 alone gives about 0.93)`);
  });
});
