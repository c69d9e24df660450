import type { Collectives } from '../runtime/collectives.js';
import { errors } from '../errors.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import type { ExpertFFN } from '../nn/ffn.js';
import type { InitOptions, Parameter } from '../nn/parameter.js';
import type { Gate, Routing } from './gate.js';
import { addGateGradient, combineBackward, routerLoss } from './rows.js';
import type { MoELayerOptions } from './moe-layer.js';
import { shareOf, StepShadows, type Shadowing } from './shadows.js';

/** Where this device sits and which devices hold each expert (the active placement version). */
export interface MoEComm {
  device: number;
  devices: number;
  collectives: Collectives;
  replicas: () => number[][];
}

interface Exchange {
  /** The placement in force (not widened by shadows) and the experts shadowed. */
  replicas: readonly (readonly number[])[];
  shadows: number[];
  /** Per destination: the local routing slots (t·k + j) sent there, experts in index order. */
  sent: Int32Array[];
  /** received[s][e]: rows of expert e that source s sent here. */
  received: Int32Array[];
  /** Per hosted expert, in index order: the rows it computed (padding included), gathered from every source in order. */
  hosted: { expert: number; rows: number }[];
  /** Rows every hosted expert's buffer is padded to (0: no padding). */
  pad: number;
  /** Per destination: the expert outputs that came back for `sent`. */
  outputs: F32[];
}

/** A layer's router and this device's expert replicas: the gate and expert actors its device hosts. */
export interface MoEParts {
  gate: Gate;
  /** This device's replica of expert `e`, or undefined when it holds none. */
  expert(e: number): ExpertFFN | undefined;
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
  private parts: MoEParts | null = null;
  private saved: { x: F32; routing: Routing; ex: Exchange } | null = null;
  lastRouting: Routing | null = null;
  /**
   * Milliseconds this device's experts spent computing in the last forward and in its backward:
   * what a placement moves between devices. Each is timed apart because devices meet in each one's
   * all-to-alls (a device slow in the forward cannot make it up in the backward).
   */
  forwardExpertMs = 0;
  backwardExpertMs = 0;
  private readonly shadows: StepShadows;

  constructor(readonly dModel: number, readonly opts: MoELayerOptions & InitOptions & { name?: string; outStd?: number }, private readonly comm: MoEComm) {
    // Forked in the order the one-process MoELayer forks them, so parts made from these seeds
    // start exactly as its gate and experts do.
    const gate = opts.rng.fork(1);
    const experts = Array.from({ length: opts.experts }, (_, e) => opts.rng.fork(100 + e).position);
    this.seeds = { name: opts.name ?? 'moe', gate: gate.position, experts };
    this.shadows = new StepShadows(comm, `MoE layer ${this.seeds.name}`, opts.experts);
  }

  /** Experts shadowed in the last forward (ascending; the same on every device). */
  get lastShadows(): readonly number[] {
    return this.shadows.last;
  }

  /** Rows this device's experts computed in the last forward, padding included. */
  get lastComputedRows(): number {
    return this.saved ? this.saved.ex.hosted.reduce((n, h) => n + h.rows, 0) : 0;
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
  private expert(e: number): ExpertFFN {
    const x = this.shadows.copy(e) ?? this.parts?.expert(e);
    if (!x) throw errors.badArgument(`MoE layer ${this.seeds.name}`, `device ${this.comm.device} received rows for expert ${e} but hosts no replica of it`);
    return x;
  }

  /** Experts hosted on this device under the current placement. */
  hosted(): number[] {
    return this.comm.replicas().flatMap((r, e) => (r.includes(this.comm.device) ? [e] : []));
  }

  async forward(x: F32): Promise<F32> {
    const { device: me, devices: D, collectives } = this.comm;
    const routing = await this.gate.forward(x);
    this.lastRouting = routing;
    this.forwardExpertMs = this.backwardExpertMs = 0;
    const k = this.opts.topk, E = this.opts.experts, d = this.dModel;
    const perExpert: number[][] = Array.from({ length: E }, () => []);
    for (let t = 0; t < x.rows; t++) for (let j = 0; j < k; j++) if (routing.kept[t * k + j]) perExpert[routing.indices.data[t * k + j]!]!.push(t * k + j);
    // Received tensors go back to the channel pool as soon as they are used (the outputs after the
    // backward, or at the next forward when there is none).
    const release = (ts: readonly Tensor[]) => ts.forEach((t) => collectives.release(t));
    if (this.saved) release(this.saved.ex.outputs.splice(0));
    // Every device learns the whole routing matrix (assignments per source and expert): what it
    // will receive follows from the split rule, and a shadowing choice is the same everywhere.
    const mine = new Tensor('i32', [E], Int32Array.from(perExpert, (s) => s.length));
    const gathered = await collectives.allToAll(Array.from({ length: D }, () => mine));
    const routed = gathered.map((t) => Int32Array.from(t.data));
    release(gathered.filter((t) => t !== mine));
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
    const rowsOf = (slots: Int32Array, src: F32, byToken: boolean) => {
      const out = Tensor.zeros([slots.length, d], src.dtype) as F32;
      slots.forEach((s, i) => {
        const row = byToken ? Math.floor(s / k) : i;
        out.data.set(src.data.subarray(row * d, row * d + d), i * d);
      });
      return out;
    };
    const inbound = (await collectives.allToAll(sent.map((s) => rowsOf(s, x, true)))) as F32[];
    const { outputs: back, hosted, ms } = await this.computeHosted(received, inbound, pad, (e, xe) => this.expert(e).forward(xe));
    this.forwardExpertMs = ms;
    release(inbound);
    const outputs = (await collectives.allToAll(back)) as F32[];
    const y = Tensor.zeros([x.rows, d], x.dtype) as F32;
    // Each token sums its experts' outputs in expert order, as in one process, whatever the placement.
    for (const { slot, rows, i } of byExpert(sent, outputs, routing)) {
      const t = Math.floor(slot / k), w = routing.weights[slot]!;
      for (let c = 0; c < d; c++) y.data[t * d + c]! += w * rows.data[i * d + c]!;
    }
    this.saved = { x, routing, ex: { replicas: placed, shadows, sent, received, hosted, outputs, pad } };
    return y;
  }

  /**
   * Runs `fn` for each hosted expert on the rows every source sent for it (sources in order), and
   * lays the results back out per source, in the layout they arrived in. With `pad`, every expert
   * this device hosts runs on at least `pad` rows, zeros after its own (even with none of its own).
   */
  private async computeHosted(received: Int32Array[], inbound: F32[], pad: number, fn: (e: number, rows: F32) => Promise<F32>) {
    const D = this.comm.devices, E = this.opts.experts, d = this.dModel;
    const dtype = inbound[0]?.dtype ?? 'f32';
    const outputs = inbound.map((t) => Tensor.zeros(t.shape, dtype) as F32);
    const offsets = received.map(() => 0);
    const hosted: { expert: number; rows: number }[] = [];
    const here = pad ? new Set(this.hosted()) : null;
    let ms = 0;
    for (let e = 0; e < E; e++) {
      let n = 0;
      for (let s = 0; s < D; s++) n += received[s]![e]!;
      const rows = here?.has(e) ? Math.max(n, pad) : n;
      if (rows === 0) continue;
      const xe = Tensor.zeros([rows, d], dtype) as F32;
      let at = 0;
      for (let s = 0; s < D; s++) {
        const m = received[s]![e]!;
        xe.data.set(inbound[s]!.data.subarray(offsets[s]! * d, (offsets[s]! + m) * d), at * d);
        at += m;
      }
      const t0 = performance.now();
      const ye = await fn(e, xe);
      ms += performance.now() - t0;
      at = 0;
      for (let s = 0; s < D; s++) {
        const m = received[s]![e]!;
        outputs[s]!.data.set(ye.data.subarray(at * d, (at + m) * d), offsets[s]! * d);
        offsets[s]! += m;
        at += m;
      }
      hosted.push({ expert: e, rows });
    }
    return { outputs, hosted, ms };
  }

  async backward(dy: F32, auxScale = 1): Promise<F32> {
    const { x, routing, ex } = this.saved!;
    const { collectives } = this.comm;
    const k = this.opts.topk, d = this.dModel;
    const dWeights = new Float64Array(x.rows * k);
    const dOut = ex.sent.map((slots, g) => combineBackward(dy, ex.outputs[g]!, slots, routing.weights, k, dWeights));
    for (const t of ex.outputs.splice(0)) collectives.release(t);
    const inbound = (await collectives.allToAll(dOut)) as F32[];
    const { outputs: back, ms } = await this.computeHosted(ex.received, inbound, ex.pad, (e, dye) => this.expert(e).backward(dye));
    this.backwardExpertMs = ms;
    for (const t of inbound) collectives.release(t);
    const dxRows = (await collectives.allToAll(back)) as F32[];
    await this.shadows.returnGradients(ex.shadows, ex.replicas, (e) => this.expert(e));
    const dx = Tensor.zeros(x.shape, x.dtype) as F32;
    for (const { slot, rows, i } of byExpert(ex.sent, dxRows, routing)) {
      const t = Math.floor(slot / k);
      for (let c = 0; c < d; c++) dx.data[t * d + c]! += rows.data[i * d + c]!;
    }
    for (const t of dxRows) collectives.release(t);
    return addGateGradient(this.gate, dx, dWeights, auxScale);
  }

  auxLoss(): number {
    return routerLoss(this.lastRouting);
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

/** Rows that came back per destination, reordered by (expert, slot): a fixed summation order. */
function byExpert(sent: Int32Array[], rows: F32[], routing: Routing): { slot: number; rows: F32; i: number }[] {
  const all: { slot: number; rows: F32; i: number }[] = [];
  sent.forEach((slots, g) => slots.forEach((slot, i) => all.push({ slot, rows: rows[g]!, i })));
  return all.sort((a, b) => routing.indices.data[a.slot]! - routing.indices.data[b.slot]! || a.slot - b.slot);
}
