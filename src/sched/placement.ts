import { errors } from '../errors.js';

/** One change to the expert-to-device mapping. */
export type PlacementOp =
  | { op: 'expand'; expert: number; device: number }
  | { op: 'shrink'; expert: number; device: number }
  | { op: 'migrate'; expert: number; from: number; to: number };

/**
 * A versioned placement of one MoE layer: which experts each device's slots hold. An expert may
 * have replicas on several devices (at most one per device); every expert keeps at least one.
 */
export class Placement {
  readonly devices: number;
  readonly slots: number;
  readonly experts: number;
  version: number;
  /** hosts[d] = experts whose replica lives on device d. */
  readonly hosts: number[][];

  constructor(devices: number, slots: number, experts: number, hosts: number[][], version = 0) {
    if (devices < 1 || experts < 1) throw errors.badArgument('Placement', `need at least one device and one expert (got ${devices}, ${experts})`);
    if (slots * devices < experts) throw errors.badArgument('Placement', `${devices} devices × ${slots} slots cannot hold ${experts} experts`);
    this.devices = devices;
    this.slots = slots;
    this.experts = experts;
    this.hosts = hosts.map((h) => [...h]);
    this.version = version;
  }

  /** Experts dealt round-robin, each once: expert e on device e mod D (DeepSpeed-style expert parallel). */
  static roundRobin(devices: number, slots: number, experts: number): Placement {
    const hosts: number[][] = Array.from({ length: devices }, () => []);
    for (let e = 0; e < experts; e++) hosts[e % devices]!.push(e);
    return new Placement(devices, slots, experts, hosts);
  }

  clone(): Placement {
    return new Placement(this.devices, this.slots, this.experts, this.hosts, this.version);
  }

  /** replicas[e] = devices holding expert e. */
  replicas(): number[][] {
    const r: number[][] = Array.from({ length: this.experts }, () => []);
    this.hosts.forEach((h, d) => h.forEach((e) => r[e]!.push(d)));
    return r;
  }

  replicasOf(expert: number): number[] {
    const out: number[] = [];
    this.hosts.forEach((h, d) => h.includes(expert) && out.push(d));
    return out;
  }

  freeSlots(device: number): number {
    return this.slots - this.hosts[device]!.length;
  }

  /**
   * Applies a whole plan as one atomic change (as the live executor switches versions at a step
   * boundary): the final state must be valid, intermediate states need not be.
   */
  applyBatch(ops: readonly PlacementOp[]): this {
    const hosts = this.hosts.map((h) => new Set(h));
    const bad = (why: string) => errors.badArgument('Placement.applyBatch', why);
    for (const op of ops) {
      if (op.op === 'shrink' || op.op === 'migrate') {
        const d = op.op === 'shrink' ? op.device : op.from;
        if (!hosts[d]!.delete(op.expert)) throw bad(`device ${d} does not hold expert ${op.expert}`);
      }
      if (op.op === 'expand' || op.op === 'migrate') {
        const d = op.op === 'expand' ? op.device : op.to;
        if (hosts[d]!.has(op.expert)) throw bad(`device ${d} already holds expert ${op.expert}`);
        hosts[d]!.add(op.expert);
      }
    }
    const held = new Set<number>();
    hosts.forEach((h, d) => {
      if (h.size > this.slots) throw bad(`device ${d} would hold ${h.size} experts in ${this.slots} slots`);
      h.forEach((e) => held.add(e));
    });
    if (held.size !== this.experts) throw bad(`the plan leaves ${this.experts - held.size} experts without a replica`);
    hosts.forEach((h, d) => (this.hosts[d] = [...h]));
    if (ops.length) this.version++;
    return this;
  }

  /** Applies ops in order (validating each), bumping the version once. */
  apply(ops: readonly PlacementOp[]): this {
    for (const op of ops) this.applyOne(op);
    if (ops.length) this.version++;
    return this;
  }

  private applyOne(op: PlacementOp): void {
    const bad = (why: string) => errors.badArgument('Placement.apply', `${JSON.stringify(op)}: ${why}`);
    const has = (d: number, e: number) => this.hosts[d]!.includes(e);
    if (op.op === 'expand') {
      if (has(op.device, op.expert)) throw bad('device already holds that expert');
      if (this.freeSlots(op.device) < 1) throw bad('no free slot');
      this.hosts[op.device]!.push(op.expert);
    } else if (op.op === 'shrink') {
      if (!has(op.device, op.expert)) throw bad('device does not hold that expert');
      if (this.replicasOf(op.expert).length < 2) throw bad('cannot drop the last replica');
      this.hosts[op.device] = this.hosts[op.device]!.filter((e) => e !== op.expert);
    } else {
      if (!has(op.from, op.expert) || has(op.to, op.expert)) throw bad('source must hold the expert and the target must not');
      if (this.freeSlots(op.to) < 1) throw bad('no free slot on the target');
      this.hosts[op.from] = this.hosts[op.from]!.filter((e) => e !== op.expert);
      this.hosts[op.to]!.push(op.expert);
    }
  }

  /** Ops that turn this placement into `target` (shrinks first, so slots free up before expands). */
  diff(target: Placement): PlacementOp[] {
    const ops: PlacementOp[] = [];
    for (let d = 0; d < this.devices; d++) for (const e of this.hosts[d]!) if (!target.hosts[d]!.includes(e)) ops.push({ op: 'shrink', expert: e, device: d });
    for (let d = 0; d < this.devices; d++) for (const e of target.hosts[d]!) if (!this.hosts[d]!.includes(e)) ops.push({ op: 'expand', expert: e, device: d });
    return ops;
  }

  toString(): string {
    return `Placement v${this.version} ${this.hosts.map((h, d) => `dev${d}:[${h.join(',')}]`).join(' ')}`;
  }
}

/**
 * Per-device tokens when each expert's load splits evenly over its replicas. Takes a Placement or
 * anything that lists replicas per expert (a served model's placement is plain arrays).
 */
export function deviceLoads(expertLoad: ArrayLike<number>, placement: Pick<Placement, 'devices' | 'replicas'>): Float64Array {
  const reps = placement.replicas();
  const out = new Float64Array(placement.devices);
  for (let e = 0; e < reps.length; e++) {
    const r = reps[e]!;
    const share = expertLoad[e]! / r.length;
    for (const d of r) out[d]! += share;
  }
  return out;
}

/**
 * The replicas a step ran with when `shadows` were shadowed (FasterMoE): each shadowed expert on
 * every device (each computing its own tokens of it), for balance ratios of such steps.
 */
export function withShadows(placement: Pick<Placement, 'devices' | 'replicas'>, shadows: readonly number[] | undefined): Pick<Placement, 'devices' | 'replicas'> {
  if (!shadows?.length) return placement;
  const everywhere = [...Array(placement.devices).keys()];
  return { devices: placement.devices, replicas: () => placement.replicas().map((r, e) => (shadows.includes(e) ? everywhere : r)) };
}

/** max ÷ mean of device loads (1 is perfect; FlexMoE's metric). vLLM and SGLang log the inverse. */
export function balanceRatio(loads: ArrayLike<number>): number {
  let max = 0, sum = 0;
  for (let i = 0; i < loads.length; i++) {
    max = Math.max(max, loads[i]!);
    sum += loads[i]!;
  }
  return sum === 0 ? 1 : max / (sum / loads.length);
}

/** A shrink and an expand of the same expert read as one migration (what events report). */
export function pairMigrations(ops: PlacementOp[]): PlacementOp[] {
  const out: PlacementOp[] = [];
  const shrinks = new Map<number, number[]>();
  for (const o of ops) if (o.op === 'shrink') shrinks.set(o.expert, [...(shrinks.get(o.expert) ?? []), o.device]);
  const expands: PlacementOp[] = [];
  for (const o of ops) {
    if (o.op !== 'expand') continue;
    const from = shrinks.get(o.expert)?.shift();
    expands.push(from === undefined ? o : { op: 'migrate', expert: o.expert, from, to: o.device });
  }
  for (const [expert, devices] of shrinks) for (const device of devices) out.push({ op: 'shrink', expert, device });
  return [...out, ...expands];
}
