// Who a shadowed expert's weights travel between: shared by the runtime (moe/shadows.ts) and the
// cost model (sched/cost.ts), which prices the collectives the runtime runs.

/**
 * The devices a shadowed expert's weights travel between: its first replica (the root) and every
 * device holding no replica, ascending. One member only: every device holds it already.
 */
export function shadowGroup(replicas: readonly number[], devices: number): number[] {
  const root = replicas[0]!;
  const group: number[] = [];
  for (let d = 0; d < devices; d++) if (d === root || !replicas.includes(d)) group.push(d);
  return group;
}
