/**
 * DeepSeek's expert-parallel load balancer (EPLB), re-implemented for one layer from the algorithm
 * published in DeepSeek EPLB, eplb.py: replicate the experts with the highest load per replica into
 * the redundant slots, then pack replicas onto devices so every device gets the same number and the
 * heaviest replica goes to the lightest device that still has room. The hierarchical form first packs
 * expert groups onto nodes, then replicates and packs within each node.
 */

/** Items → packs of exactly n/packs items each, heaviest first onto the lightest pack with room. */
export function balancedPacking(weight: readonly number[], packs: number): { pack: number[]; rank: number[] } {
  const n = weight.length;
  if (n % packs !== 0) throw new RangeError(`balancedPacking: ${n} items do not divide into ${packs} packs`);
  const per = n / packs;
  if (per === 1) return { pack: weight.map((_, i) => i), rank: weight.map(() => 0) };
  const order = weight.map((_, i) => i).sort((a, b) => weight[b]! - weight[a]! || a - b);
  const load = new Array<number>(packs).fill(0), items = new Array<number>(packs).fill(0);
  const pack = new Array<number>(n).fill(-1), rank = new Array<number>(n).fill(-1);
  for (const i of order) {
    let best = -1;
    for (let p = 0; p < packs; p++) if (items[p]! < per && (best < 0 || load[p]! < load[best]!)) best = p;
    pack[i] = best;
    rank[i] = items[best]!;
    load[best]! += weight[i]!;
    items[best]!++;
  }
  return { pack, rank };
}

/** Each redundant slot goes to the expert with the highest load per replica (first on ties). */
export function replicateExperts(weight: readonly number[], physical: number): { phy2log: number[]; rank: number[]; count: number[] } {
  const logical = weight.length;
  if (physical < logical) throw new RangeError(`replicateExperts: ${physical} slots for ${logical} experts`);
  const phy2log = [...Array(logical).keys()], rank = new Array<number>(logical).fill(0), count = new Array<number>(logical).fill(1);
  for (let i = logical; i < physical; i++) {
    let best = 0;
    for (let e = 1; e < logical; e++) if (weight[e]! / count[e]! > weight[best]! / count[best]!) best = e;
    phy2log.push(best);
    rank.push(count[best]!);
    count[best]!++;
  }
  return { phy2log, rank, count };
}

export interface EplbResult {
  /** Logical expert of each physical slot; device g holds slots [g·per, (g+1)·per). */
  phy2log: number[];
  /** Replica count of each logical expert. */
  count: number[];
}

/** Hierarchical balancing: groups → nodes, then replicas within nodes, then replicas → devices. */
export function rebalanceHierarchical(weight: readonly number[], physical: number, groups: number, nodes: number, devices: number): EplbResult {
  const L = weight.length;
  if (L % groups || groups % nodes || devices % nodes || physical % devices) {
    throw new RangeError(`EPLB: need experts % groups, groups % nodes, devices % nodes and slots % devices all 0 (got ${L}, ${groups}, ${nodes}, ${devices}, ${physical})`);
  }
  const groupSize = L / groups, groupsPerNode = groups / nodes, perDevice = physical / devices;
  const perNodeLogical = L / nodes, perNodePhysical = physical / nodes, devicesPerNode = devices / nodes;
  // 1. groups onto nodes; "node-major" logical order: mlog = (node·groupsPerNode + rank)·groupSize + offset
  const groupLoad = Array.from({ length: groups }, (_, g) => weight.slice(g * groupSize, (g + 1) * groupSize).reduce((a, b) => a + b, 0));
  const gp = balancedPacking(groupLoad, nodes);
  const log2mlog = Array.from({ length: L }, (_, e) => {
    const g = Math.floor(e / groupSize);
    return (gp.pack[g]! * groupsPerNode + gp.rank[g]!) * groupSize + (e % groupSize);
  });
  const mlog2log = new Array<number>(L);
  log2mlog.forEach((m, e) => (mlog2log[m] = e));
  const phy2log: number[] = [];
  const count = new Array<number>(L).fill(0);
  for (let node = 0; node < nodes; node++) {
    // 2. replicate within the node
    const local = Array.from({ length: perNodeLogical }, (_, i) => weight[mlog2log[node * perNodeLogical + i]!]!);
    const rep = replicateExperts(local, perNodePhysical);
    rep.count.forEach((c, i) => (count[mlog2log[node * perNodeLogical + i]!] = c));
    // 3. pack the node's replicas onto its devices
    const replicaLoad = rep.phy2log.map((m) => local[m]! / rep.count[m]!);
    const pk = balancedPacking(replicaLoad, devicesPerNode);
    const slots = new Array<number>(perNodePhysical);
    rep.phy2log.forEach((m, i) => (slots[pk.pack[i]! * perDevice + pk.rank[i]!] = mlog2log[node * perNodeLogical + m]!));
    phy2log.push(...slots);
  }
  return { phy2log, count };
}

/** Entry point: hierarchical when groups divide evenly into nodes, else global (one group, one node). */
export function rebalanceExperts(weight: readonly number[], physical: number, groups: number, nodes: number, devices: number): EplbResult {
  return groups % nodes === 0 ? rebalanceHierarchical(weight, physical, groups, nodes, devices) : rebalanceHierarchical(weight, physical, 1, 1, devices);
}
