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
}

/**
 * DeepSeek EPLB as a policy: every `interval` steps, fill all D × S slots by replicating the experts
 * with the highest load per replica, then pack replicas onto devices (hierarchically by node when
 * experts divide into node groups). Always spends the whole slot budget; no trigger, no migration
 * cost in its decision (the simulator still charges the moves).
 */
export function eplbPolicy({ interval = 20, window = 20, locality = true }: EplbOptions = {}): Policy {
  return {
    name: 'eplb',
    initial: (D, S, E) => Placement.roundRobin(D, S, E),
    decide(load, placement, cost) {
      if (load.step % interval !== 0 || load.history.length === 0) return [];
      const { devices: D, slots: S, experts: E } = placement;
      const weight = Array.from(windowMean(load.history, window, E));
      const nodes = Math.max(1, Math.ceil(D / cost.devicesPerNode));
      const hierarchical = nodes > 1 && D % nodes === 0 && E % nodes === 0;
      const { phy2log } = rebalanceExperts(weight, D * S, hierarchical ? nodes : 1, hierarchical ? nodes : 1, D);
      const hosts = Array.from({ length: D }, (_, d) => [...new Set(phy2log.slice(d * S, (d + 1) * S))]);
      return placement.diff(new Placement(D, S, E, hosts));
    },
    dispatch: () => ({ mode: 'split', locality }),
  };
}
