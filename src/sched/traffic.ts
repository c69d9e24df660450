/**
 * Where an expert's tokens go, as the planner predicts it: every source device is assumed to send
 * the expert the same share of its load (load ÷ D), and tokens travel by the rules of the cost
 * model's `split` dispatch (cost.ts):
 *  - topology-aware (`locality`): a source holding a replica keeps its tokens; otherwise they go to
 *    the replicas in its own node, split evenly; a node without a replica splits over all replicas;
 *  - even: every source splits over all replicas.
 * Per device it keeps expert tokens computed (with `callRows`, each buffer counted as that many
 * more) and tokens sent and received over intra- and inter-node links; one expert's contribution
 * can be added or removed, so a planner can price a change to one replica set without recomputing
 * the rest.
 */
/** What pricing traffic needs of the cost model's unit costs (cost.ts `unitCosts`). */
export interface LinkCosts {
  tokenBytes: number;
  linkMs: (bytes: number, sameNode: boolean) => number;
}

export interface Topology {
  devices: number;
  devicesPerNode: number;
  locality: boolean;
  /**
   * What one expert buffer costs a device beyond its rows, in rows (the profile's `expertCallMs`
   * over the time of one row): every replica of an expert with load computes one. Default 0.
   */
  callRows?: number;
}

/** Per-device arrays, each of length D, packed in one buffer so a trial copies once. */
export class Traffic {
  readonly buf: Float64Array;
  readonly load: Float64Array;
  readonly intraIn: Float64Array;
  readonly interIn: Float64Array;
  readonly intraOut: Float64Array;
  readonly interOut: Float64Array;
  private readonly nodes: number;
  private readonly perNode: Int32Array;
  /** Devices of the replica set being added, marked with `stamp` (no `includes` scan per source). */
  private readonly mark: Int32Array;
  private stamp = 0;

  constructor(readonly topo: Topology, buf?: Float64Array) {
    const D = topo.devices;
    this.buf = buf ?? new Float64Array(5 * D);
    [this.load, this.intraIn, this.interIn, this.intraOut, this.interOut] = [0, 1, 2, 3, 4].map((i) => this.buf.subarray(i * D, (i + 1) * D)) as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
    this.nodes = Math.ceil(D / topo.devicesPerNode);
    this.perNode = new Int32Array(this.nodes);
    this.mark = new Int32Array(D);
  }

  clone(): Traffic {
    return new Traffic(this.topo, this.buf.slice());
  }

  /** Overwrites this traffic with another of the same topology (no allocation); returns this. */
  copyFrom(other: Traffic): this {
    this.buf.set(other.buf);
    return this;
  }

  node(d: number): number {
    return Math.floor(d / this.topo.devicesPerNode);
  }

  private nodeSize(n: number): number {
    return Math.min(this.topo.devices, (n + 1) * this.topo.devicesPerNode) - n * this.topo.devicesPerNode;
  }

  /** Adds (sign 1) or removes (sign -1) the traffic of an expert with `load` tokens held by `reps`. */
  add(load: number, reps: readonly number[], sign = 1): void {
    const { devices: D, locality } = this.topo;
    const R = reps.length;
    if (R === 0 || load === 0) return;
    const t = (sign * load) / D; // tokens each source sends this expert
    const uncovered = this.count(reps), r = this.perNode;
    const mark = this.mark, stamp = this.nextStamp();
    const call = sign * (this.topo.callRows ?? 0);
    for (const d of reps) {
      mark[d] = stamp;
      this.load[d]! += call;
    }
    if (locality) {
      for (const d of reps) {
        const n = this.node(d);
        const fromNode = ((this.nodeSize(n) - r[n]!) * t) / r[n]!;
        const fromAway = (uncovered * t) / R;
        this.load[d]! += t + fromNode + fromAway;
        this.intraIn[d]! += fromNode;
        this.interIn[d]! += fromAway;
      }
      for (let s = 0; s < D; s++) {
        const n = this.node(s);
        if (r[n] === 0) this.interOut[s]! += t;
        else if (mark[s] !== stamp) this.intraOut[s]! += t;
      }
      return;
    }
    for (const d of reps) {
      const n = this.node(d);
      this.load[d]! += (D * t) / R;
      this.intraIn[d]! += ((this.nodeSize(n) - 1) * t) / R;
      this.interIn[d]! += ((D - this.nodeSize(n)) * t) / R;
    }
    for (let s = 0; s < D; s++) {
      const n = this.node(s);
      const own = mark[s] === stamp ? 1 : 0;
      this.intraOut[s]! += ((r[n]! - own) * t) / R;
      this.interOut[s]! += ((R - r[n]!) * t) / R;
    }
  }

  private nextStamp(): number {
    this.stamp = (this.stamp + 1) | 0;
    if (this.stamp <= 0) {
      // Wrapped after 2^31 marks (a long-lived scheduler): start over from clean marks.
      this.mark.fill(0);
      this.stamp = 1;
    }
    return this.stamp;
  }

  /** Tokens each replica of an expert receives over the slow links (from nodes without a replica). */
  awayShare(load: number, reps: readonly number[]): number {
    const D = this.topo.devices;
    if (!this.topo.locality) return (load * (D - Math.min(D, this.topo.devicesPerNode))) / D / reps.length;
    return (this.count(reps) * load) / D / reps.length;
  }

  /** Tokens device d computes for an expert held by `reps` (d among them) with `load` tokens. */
  shareOn(d: number, load: number, reps: readonly number[]): number {
    if (!this.topo.locality) return load / reps.length;
    const uncovered = this.count(reps), r = this.perNode;
    const t = load / this.topo.devices, n = this.node(d);
    return t + ((this.nodeSize(n) - r[n]!) * t) / r[n]! + (uncovered * t) / reps.length;
  }

  /** Fills `perNode` with the replicas in each node; returns the sources in nodes without one. */
  private count(reps: readonly number[]): number {
    const r = this.perNode;
    r.fill(0);
    for (const d of reps) r[this.node(d)]!++;
    let uncovered = 0;
    for (let n = 0; n < this.nodes; n++) if (r[n] === 0) uncovered += this.nodeSize(n);
    return uncovered;
  }

  /** ms device d spends sending in one all-to-all pass (its intra- and inter-node volumes). */
  sendMs(d: number, u: LinkCosts): number {
    return u.linkMs(this.intraOut[d]! * u.tokenBytes, true) + u.linkMs(this.interOut[d]! * u.tokenBytes, false);
  }

  /** ms device d spends receiving in one all-to-all pass. */
  recvMs(d: number, u: LinkCosts): number {
    return u.linkMs(this.intraIn[d]! * u.tokenBytes, true) + u.linkMs(this.interIn[d]! * u.tokenBytes, false);
  }

  /** The slowest device's time in one all-to-all pass: max over devices of max(send, receive); the slower side sets its pace. */
  a2aMs(u: LinkCosts): number {
    let worst = 0;
    for (let d = 0; d < this.topo.devices; d++) worst = Math.max(worst, this.sendMs(d, u), this.recvMs(d, u));
    return worst;
  }
}

/** The traffic of a whole placement under the planner's assumption (sources alike). */
export function trafficOf(expertLoad: ArrayLike<number>, replicas: readonly (readonly number[])[], topo: Topology): Traffic {
  const tr = new Traffic(topo);
  replicas.forEach((r, e) => tr.add(expertLoad[e]!, r));
  return tr;
}
