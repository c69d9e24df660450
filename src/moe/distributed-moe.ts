import type { Collectives } from '../runtime/collectives.js';
import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import type { InitOptions, Parameter } from '../nn/parameter.js';
import { LastPass } from '../autograd/grad.js';
import { allToAll, combine, onBackward, regroupRows, type RowSource } from '../autograd/moe-ops.js';
import type { Expert } from './expert.js';
import type { Gate, Routing } from './gate.js';
import type { MoELayerOptions } from './moe-layer.js';
import { shareOf, StepShadows, type Shadowing } from './shadows.js';

/** Where this device sits and which devices hold each expert (the active placement version). */
export interface MoEComm {
  device: number;
  devices: number;
  collectives: Collectives;
  replicas: () => number[][];
}

/** A layer's router and this device's expert replicas: the gate and expert actors its device hosts. */
export interface MoEParts {
  gate: Gate;
  /** This device's replica of expert `e`, or undefined when it holds none. */
  expert(e: number): Expert | undefined;
  /** Expert shadowing (FasterMoE, shadows.ts): which experts to shadow this step, and where a copy goes. */
  shadowing?: Shadowing;
  /**
   * DeepSpeed dropless (the static policy): every hosted expert computes a buffer padded to the
   * step's largest expert load per replica, zero rows beyond its own tokens, as DeepSpeed's
   * fixed-shape dispatch does with `drop_tokens=False`. The zero rows change no output or gradient.
   */
  padMax?: boolean;
}

export type { Shadowing };

/** How to make a layer's parts exactly as the layer would: the seeds of their initialisation. */
export interface MoEPartSeeds {
  name: string;
  gate: number;
  experts: number[];
}

/**
 * The Mixture-of-Experts layer across devices. Each device routes its own tokens; rows travel to
 * the devices hosting their expert through the runtime's all-to-all over SharedArrayBuffer channels
 * (a token stays home when its own device hosts a replica; otherwise an expert's rows split evenly
 * over its replicas), experts compute where they are placed, and results come back the same way.
 * Backward retraces the path. Router statistics are all-reduced so the auxiliary losses are global,
 * and every output row depends only on its input row: any placement gives the same values.
 *
 * The gate and experts are not the layer's: they are the gate and expert actors the device hosts
 * (actors/gate.ts, actors/expert.ts), made from `seeds` and attached by the actor running the model
 * (actors/moe-wiring.ts), again after every placement change.
 */
export class DistributedMoELayer {
  readonly seeds: MoEPartSeeds;
  readonly recordsOnTape = true;
  private parts: MoEParts | null = null;
  private readonly pass: LastPass;
  lastRouting: Routing | null = null;
  /** Rows this device's experts computed in the last forward, padding included. */
  lastComputedRows = 0;
  /**
   * Milliseconds this device's experts spent computing in the last forward and in its backward:
   * what a placement moves between devices. Each is timed apart because devices meet in each one's
   * all-to-alls (a device slow in the forward cannot make it up in the backward).
   */
  forwardExpertMs = 0;
  backwardExpertMs = 0;
  private readonly shadows: StepShadows;

  constructor(private readonly be: Backend, readonly dModel: number, readonly opts: MoELayerOptions & InitOptions & { name?: string; outStd?: number }, private readonly comm: MoEComm) {
    // Forked in the order the one-process MoELayer forks them, so parts made from these seeds
    // start exactly as its gate and experts do.
    const gate = opts.rng.fork(1);
    const experts = Array.from({ length: opts.experts }, (_, e) => opts.rng.fork(100 + e).position);
    this.seeds = { name: opts.name ?? 'moe', gate: gate.position, experts };
    this.shadows = new StepShadows(comm, `MoE layer ${this.seeds.name}`, opts.experts);
    this.pass = new LastPass(be, 'DistributedMoELayer');
  }

  /** Experts shadowed in the last forward (ascending; the same on every device). */
  get lastShadows(): readonly number[] {
    return this.shadows.last;
  }

  /** Uses these parts from now on (the gate and expert actors of the current placement). */
  attach(parts: MoEParts): void {
    this.parts = parts;
  }

  get gate(): Gate {
    if (!this.parts) throw errors.badArgument(`MoE layer ${this.seeds.name}`, 'used before its gate and experts were attached');
    return this.parts.gate;
  }

  /** This device's replica of expert `e`; the placement says it is here, so its absence is a bug worth naming. */
  private expert(e: number): Expert {
    const x = this.shadows.copy(e) ?? this.parts?.expert(e);
    if (!x) throw errors.badArgument(`MoE layer ${this.seeds.name}`, `device ${this.comm.device} received rows for expert ${e} but hosts no replica of it`);
    return x;
  }

  /** Experts hosted on this device under the current placement. */
  hosted(): number[] {
    return this.comm.replicas().flatMap((r, e) => (r.includes(this.comm.device) ? [e] : []));
  }

  async forward(x: F32): Promise<F32> {
    return this.pass.run([x], () => this.parameters(), () => this.route(x));
  }

  /** d(loss)/dx of the last forward (every device runs it in step: it meets the others in the all-to-alls). */
  async backward(dy: F32): Promise<F32> {
    return (await this.pass.backward(dy))[0]!;
  }

  private async route(x: F32): Promise<F32> {
    const { device: me, devices: D, collectives } = this.comm;
    const routing = await this.gate.forward(x);
    this.lastRouting = routing;
    this.forwardExpertMs = this.backwardExpertMs = 0;
    const k = this.opts.topk, E = this.opts.experts, d = this.dModel;
    const perExpert: number[][] = Array.from({ length: E }, () => []);
    for (let t = 0; t < x.rows; t++) for (let j = 0; j < k; j++) if (routing.kept[t * k + j]) perExpert[routing.indices.data[t * k + j]!]!.push(t * k + j);
    // Every device learns the whole routing matrix (assignments per source and expert): what it
    // will receive follows from the split rule, and a shadowing choice is the same everywhere.
    const mine = new Tensor('i32', [E], Int32Array.from(perExpert, (s) => s.length));
    const gathered = await collectives.allToAll(Array.from({ length: D }, () => mine));
    const routed = gathered.map((t) => Int32Array.from(t.data));
    gathered.forEach((t) => t !== mine && collectives.release(t));
    const placed = this.comm.replicas();
    const shadowing = this.parts?.shadowing;
    const shadows = this.shadows.choose(shadowing, routed, placed);
    const reps = shadows.length ? await this.shadows.ship(shadowing!, shadows, placed, (e) => this.expert(e)) : placed;
    // Destination of every kept slot (a token stays home when its device holds a replica).
    const toDest: number[][] = Array.from({ length: D }, () => []);
    for (let e = 0; e < E; e++) {
      const r = reps[e]!, slots = perExpert[e]!;
      if (r.includes(me)) {
        for (const s of slots) toDest[me]!.push(s);
        continue;
      }
      for (let i = 0; i < r.length; i++) {
        const to = Math.floor(((i + 1) * slots.length) / r.length);
        for (let j = Math.floor((i * slots.length) / r.length); j < to; j++) toDest[r[i]!]!.push(slots[j]!);
      }
    }
    const received = Array.from({ length: D }, (_, s) => Int32Array.from({ length: E }, (_, e) => shareOf(routed[s]![e]!, reps[e]!, s, me)));
    const pad = this.parts?.padMax ? padRows(routed, reps) : 0;
    const sent = toDest.map((s) => Int32Array.from(s));
    const dispatch = await regroupRows([x], sent.map((slots) => ({ src: new Int32Array(slots.length), row: slots.map((s) => Math.floor(s / k)) })), d, x.dtype);
    const inbound = await allToAll(collectives, dispatch);
    const back = await this.computeHosted(received, inbound, pad, x.dtype);
    const outputs = await allToAll(collectives, back);
    // Each token sums its experts' outputs in expert order, as in one process, whatever the placement.
    // Where each slot's output came back; the combine sums each token's experts in expert order,
    // as in one process, whatever the placement.
    const plan = { g: new Int32Array(x.rows * k).fill(-1), i: new Int32Array(x.rows * k) };
    sent.forEach((slots, g) => slots.forEach((slot, i) => ((plan.g[slot] = g), (plan.i[slot] = i))));
    return combine(routing.weightTensor, outputs, plan, routing.indices, d, x.dtype);
  }

  /**
   * Runs each hosted expert on the rows every source sent for it (sources in order), and lays the
   * results back out per source, in the layout they arrived in. With `pad`, every expert this device
   * hosts runs on at least `pad` rows, zeros after its own (even with none of its own).
   */
  private async computeHosted(received: Int32Array[], inbound: F32[], pad: number, dtype: F32['dtype']): Promise<F32[]> {
    const D = this.comm.devices, E = this.opts.experts;
    const here = pad ? new Set(this.hosted()) : null;
    // Where each expert's rows come from, and where each source's rows of it go back.
    const inputs: RowSource[] = [], experts: number[] = [];
    const backSrc = inbound.map((t) => new Int32Array(t.rows)), backRow = inbound.map((t) => new Int32Array(t.rows));
    const offsets = received.map(() => 0);
    let computed = 0;
    for (let e = 0; e < E; e++) {
      let n = 0;
      for (let s = 0; s < D; s++) n += received[s]![e]!;
      const rows = here?.has(e) ? Math.max(n, pad) : n;
      if (rows === 0) continue;
      const src = new Int32Array(rows).fill(-1), row = new Int32Array(rows);
      let at = 0;
      for (let s = 0; s < D; s++) {
        for (let m = 0; m < received[s]![e]!; m++, at++) {
          src[at] = s;
          row[at] = offsets[s]!;
          backSrc[s]![offsets[s]!] = experts.length;
          backRow[s]![offsets[s]!] = at;
          offsets[s]!++;
        }
      }
      inputs.push({ src, row });
      experts.push(e);
      computed += rows;
    }
    this.lastComputedRows = computed;
    const xs = await regroupRows(inbound, inputs, this.dModel, dtype);
    let t0 = 0;
    onBackward(() => void (this.backwardExpertMs += performance.now() - t0));
    const ys: F32[] = [];
    const f0 = performance.now();
    for (let i = 0; i < experts.length; i++) ys.push(await this.expert(experts[i]!).forward(xs[i]!));
    this.forwardExpertMs += performance.now() - f0;
    onBackward(() => void (t0 = performance.now()));
    return regroupRows(ys, inbound.map((_, s) => ({ src: backSrc[s]!, row: backRow[s]! })), this.dModel, dtype);
  }

  auxLoss(): number {
    return this.lastRouting ? this.lastRouting.auxLoss + this.lastRouting.zLoss : 0;
  }

  /** What this device trains: the gate and its hosted experts (nothing before parts are attached). */
  parameters(): Parameter[] {
    if (!this.parts) return [];
    return [...this.gate.parameters(), ...this.hosted().flatMap((e) => this.expert(e).parameters())];
  }
}

/** DeepSpeed's dropless capacity: the largest expert load per replica this step (every device computes the same). */
function padRows(routed: readonly Int32Array[], reps: readonly (readonly number[])[]): number {
  let cap = 0;
  for (let e = 0; e < reps.length; e++) {
    let total = 0;
    for (const row of routed) total += row[e]!;
    cap = Math.max(cap, Math.ceil(total / reps[e]!.length));
  }
  return cap;
}
