import type { Collectives } from '../runtime/collectives.js';
import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import type { InitOptions, Parameter } from '../nn/parameter.js';
import { LastPass } from '../autograd/grad.js';
import { combine, regroupRows, type RowSource } from '../autograd/moe-ops.js';
import type { ActorRef } from '../runtime/actor.js';
import type { RowMessage, RowPost } from '../runtime/row-post.js';
import { ExpertRunner } from './expert-runner.js';
import type { Expert } from './expert.js';
import type { Gate, Routing } from './gate.js';
import type { MoELayerOptions } from './moe-layer.js';
import { StepShadows, type Shadowing } from './shadows.js';

/** Where this device sits and which devices hold each expert (the active placement version). */
export interface MoEComm {
  device: number;
  devices: number;
  collectives: Collectives;
  replicas: () => number[][];
  /** Row messages to actors, over the all-to-all (src/runtime/row-post.ts). */
  post: RowPost;
}

/** A layer's router and this device's expert replicas: the gate and expert actors its device hosts. */
export interface MoEParts {
  gate: Gate;
  /** This device's replica of expert `e`, or undefined when it holds none (what this device trains). */
  expert(e: number): Expert | undefined;
  /** The actor of expert `e`'s replica on `device` (rows for it are messages to it), or undefined. */
  replica(e: number, device: number): ActorRef | undefined;
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
 * The Mixture-of-Experts layer across devices. Each device routes its own tokens; each expert
 * replica gets its rows as a row message to its actor (src/runtime/row-post.ts: a token stays home
 * when its own device holds a replica; otherwise an expert's rows split evenly over its replicas),
 * which the runtime carries in one all-to-all frame per device pair; the expert actors compute
 * where they are placed, with their own forward and backward (src/moe/expert-runner.ts), and their
 * replies come back the same way. On the tape the exchange is one op, whose backward sends the
 * replies' gradients to the same actors. Router statistics are all-reduced so the auxiliary losses
 * are global, and every output row depends only on its input row: any placement gives the same values.
 *
 * The gate and experts are not the layer's: they are the gate and expert actors (actors/gate.ts,
 * actors/expert.ts), made from `seeds` and attached by the actor running the model
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
  /** Forward passes so far: each exchange's number, which its backward names to the experts. */
  private passes = 0;
  /** Shadow copies as row handlers (the copies are reused from step to step, and so are these). */
  private readonly runners = new Map<Expert, ExpertRunner>();

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
    const k = this.opts.topk, E = this.opts.experts;
    const perExpert: number[][] = Array.from({ length: E }, () => []);
    for (let t = 0; t < x.rows; t++) for (let j = 0; j < k; j++) if (routing.kept[t * k + j]) perExpert[routing.indices.data[t * k + j]!]!.push(t * k + j);
    // Every device learns the whole routing matrix (assignments per source and expert): the padded
    // size and a shadowing choice follow from it, the same everywhere.
    const mine = new Tensor('i32', [E], Int32Array.from(perExpert, (s) => s.length));
    const gathered = await collectives.allToAll(Array.from({ length: D }, () => mine));
    const routed = gathered.map((t) => Int32Array.from(t.data));
    gathered.forEach((t) => t !== mine && collectives.release(t));
    const placed = this.comm.replicas();
    const shadowing = this.parts?.shadowing;
    const shadows = this.shadows.choose(shadowing, routed, placed);
    const reps = shadows.length ? await this.shadows.ship(shadowing!, shadows, placed, (e) => this.expert(e)) : placed;
    const pad = this.parts?.padMax ? padRows(routed, reps) : 0;
    // One message of rows per expert replica this device sends to (a token stays home when its
    // device holds a replica; otherwise an expert's rows split evenly over its replicas, shareOf).
    const messages: RowMessage[] = [], groups: RowSource[] = [];
    const plan = { g: new Int32Array(x.rows * k).fill(-1), i: new Int32Array(x.rows * k) };
    const send = (e: number, d: number, slots: readonly number[], minRows = 0) => {
      slots.forEach((slot, i) => ((plan.g[slot] = messages.length), (plan.i[slot] = i)));
      groups.push({ src: new Int32Array(slots.length), row: Int32Array.from(slots, (s) => Math.floor(s / k)) });
      messages.push({ to: this.target(e, d), x: null as unknown as F32, minRows });
    };
    for (let e = 0; e < E; e++) {
      const r = reps[e]!, slots = perExpert[e]!;
      // DeepSpeed dropless: every expert this device hosts runs the padded size, even on no rows of its own.
      const padHere = pad && placed[e]!.includes(me) ? pad : 0;
      if (r.includes(me)) {
        if (slots.length || padHere) send(e, me, slots, padHere);
        continue;
      }
      for (let i = 0; i < r.length; i++) {
        const part = slots.slice(Math.floor((i * slots.length) / r.length), Math.floor(((i + 1) * slots.length) / r.length));
        if (part.length) send(e, r[i]!, part);
      }
    }
    const rows = await regroupRows([x], groups, this.dModel, x.dtype);
    rows.forEach((t, m) => (messages[m]!.x = t));
    const replies = await this.comm.post.exchange(this.passes++, messages, (kind, ms, n) => {
      if (kind === 'forward') [this.forwardExpertMs, this.lastComputedRows] = [this.forwardExpertMs + ms, n];
      else this.backwardExpertMs += ms;
    });
    // Each token sums its experts' outputs in expert order, as in one process, whatever the placement.
    return combine(routing.weightTensor, replies, plan, routing.indices, this.dModel, x.dtype);
  }

  /** Where expert `e`'s rows for device `d` go: this step's shadow copy here, else the replica actor there. */
  private target(e: number, d: number): RowMessage['to'] {
    const copy = d === this.comm.device ? this.shadows.copy(e) : undefined;
    if (copy) {
      let runner = this.runners.get(copy);
      if (!runner) this.runners.set(copy, (runner = new ExpertRunner(this.be, copy)));
      return runner;
    }
    const ref = this.parts?.replica(e, d);
    if (!ref) throw errors.badArgument(`MoE layer ${this.seeds.name}`, `the placement puts expert ${e} on device ${d}, but no actor of it is known there`);
    return ref;
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
