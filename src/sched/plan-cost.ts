import { unitCosts, type CostProfile } from './cost.js';
import type { Placement, PlacementOp } from './placement.js';

// What changing a placement costs: moving state to new replicas, and planning within a step.

/** Time to carry out placement ops: each new replica copies parameters and optimizer state over the slowest link used. */
export function migrationMs(ops: readonly PlacementOp[], before: Placement, p: CostProfile): number {
  const u = unitCosts(p);
  const node = (d: number) => Math.floor(d / p.devicesPerNode);
  const bytes = u.paramBytes * (p.training ? p.stateBytesFactor : 1);
  const perDevice = new Float64Array(before.devices);
  for (const op of ops) {
    if (op.op === 'shrink') continue;
    const to = op.op === 'expand' ? op.device : op.to;
    const sources = op.op === 'migrate' ? [op.from] : before.replicasOf(op.expert);
    const sameNode = sources.some((s) => node(s) === node(to));
    perDevice[to]! += u.linkMs(bytes, sameNode);
  }
  let max = 0;
  for (const v of perDevice) max = Math.max(max, v);
  return max;
}

/**
 * What a plan made after gating adds to its step on `devices` devices: `CostProfile.reactPlanMs`,
 * or by default 1.5 ms × max(1, devices ÷ 16). The planner's time grows about linearly with the
 * devices; the default is about twice the median in-step plan bench/simulate.ts measures at each
 * scale, above every one it has timed but a single pause (docs/policies.md).
 */
export function reactPlanMs(p: CostProfile, devices: number): number {
  return p.reactPlanMs ?? 1.5 * Math.max(1, devices / 16);
}
