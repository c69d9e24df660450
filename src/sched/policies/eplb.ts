import { rebalanceExperts } from '../eplb.js';
import { Placement } from '../placement.js';
import { windowMean, type Policy } from '../policy.js';

export interface EplbOptions {
  /** Re-plan every `interval` steps … */
  interval?: number;
  /** … from the mean load of the last `window` steps. */
  window?: number;
  /** Keep a token on its own device when that device holds a replica (as FlexMoE does, for a fair comparison). */
  locality?: boolean;
  /**
   * The model's expert groups (DeepSeek-V3's node-limited routing has them). Hierarchical balancing
   * when they divide over the nodes, as the reference does; without groups, the global policy.
   */
  groups?: number;
}

/**
 * DeepSeek EPLB as a policy: every `interval` steps, fill all D × S slots by replicating the experts
 * with the highest load per replica, then pack replicas onto devices: hierarchically (groups onto
 * nodes first) when the model has expert groups that divide over the nodes, otherwise globally, as
 * DeepSeek EPLB, eplb.py, chooses. Expert groups are the model's, not the nodes: pinning expert e
 * to node ⌊e / (E / nodes)⌋ would strand a hot block of experts on one node. Always spends the whole slot budget; no trigger, no migration
 * cost in its decision (the simulator still charges the moves).
 */
export function eplbPolicy({ interval = 20, window = 20, locality = true, groups }: EplbOptions = {}): Policy {
  // A placement holds an expert at most once per device; how many of the plan's replicas each device
  // has is kept here, by the placement it belongs to, for the split (tokens go per replica).
  const copiesOf = new Map<string, number[][]>();
  const key = (p: Placement) => p.hosts.map((h) => [...h].sort((a, b) => a - b).join(',')).join('|');
  return {
    name: 'eplb',
    initial: (D, S, E) => Placement.roundRobin(D, S, E),
    // Every `interval` steps, from the mean load of the last `window` (the scheduling pipeline's).
    schedule: { estimator: { kind: 'mean', window }, checkEvery: interval },
    decide(load, placement, cost) {
      const { devices: D, slots: S, experts: E } = placement;
      const weight = Array.from(load.estimate ?? windowMean(load.history, window, E));
      const nodes = Math.max(1, Math.ceil(D / cost.devicesPerNode));
      const hierarchical = groups !== undefined && nodes > 1 && D % nodes === 0 && E % groups === 0 && groups % nodes === 0;
      const { phy2log } = rebalanceExperts(weight, D * S, hierarchical ? groups : 1, hierarchical ? nodes : 1, D);
      const hosts = Array.from({ length: D }, (_, d) => [...new Set(phy2log.slice(d * S, (d + 1) * S))]);
      const target = new Placement(D, S, E, hosts);
      const copies = Array.from({ length: E }, () => new Array<number>(D).fill(0));
      phy2log.forEach((e, slot) => copies[e]![Math.floor(slot / S)]!++);
      // The placement in force may still be an earlier plan's while this one waits to be carried
      // out: keep the last few plans' counts, not every one.
      if (copies.some((row) => row.some((c) => c > 1))) copiesOf.set(key(target), copies);
      while (copiesOf.size > 3) copiesOf.delete(copiesOf.keys().next().value!);
      return placement.diff(target);
    },
    dispatch: (_view, placement) => ({ mode: 'split', locality, copies: copiesOf.size ? copiesOf.get(key(placement)) : undefined }),
  };
}
