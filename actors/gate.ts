/**
 * The gate (router) actor of one MoE layer. Routing is data parallel: every device routes its own
 * tokens, so the layer's gate is one replica group with a member on every device (spawned once,
 * then cloned), kept identical by the dense gradient all-reduce. It owns the router parameters and
 * their Adam moments (actors/trainable.ts), all-reduces the routing statistics so the auxiliary
 * losses are global, and answers with the token counts per expert its device routed last (the
 * per-source load the scheduler reads). The trainer on the same device calls it directly (`ctx.local`).
 */
import { registerActor, type ActorContext, type ActorRef } from '../src/runtime/actor.js';
import type { SchedulerMessage } from './scheduler.js';
import type { Backend } from '../src/kernels/backend.js';
import { makeGate, type Gate, type GateOptions } from '../src/moe/gates.js';
import type { OwnedState } from '../src/moe/owned-state.js';
import type { Parameter, ParamDType } from '../src/nn/parameter.js';
import { Rng } from '../src/nn/random.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { TrainableActor, type TrainableArgs } from './trainable.js';

export interface GateArgs extends TrainableArgs {
  /** e.g. `block0.moe.gate`. */
  name: string;
  dModel: number;
  options: GateOptions;
  seed: number;
  dtype?: ParamDType;
  /**
   * All-reduce the routing statistics over the devices (default), so the auxiliary losses are
   * global. Serving routes per token without them: false skips the collective.
   */
  global?: boolean;
}

export type GateMessage =
  /** This device's assignments per expert in the last forward. */
  | { type: 'counts' }
  | { type: 'state' };

export class GateActor extends TrainableActor<GateArgs> {
  static override actorName = 'Gate';
  gate!: Gate;
  private context!: ActorContext;

  protected build(be: Backend, ctx: ActorContext): Parameter[] {
    const a = this.args;
    this.context = ctx;
    this.gate = makeGate(be, a.dModel, { ...a.options, name: a.name, rng: new Rng(a.seed), dtype: a.dtype, skipInit: this.overwritten });
    this.gate.device = ctx.device;
    if (a.global !== false) this.gate.reduce = async (v) => Float64Array.from((await ctx.collectives.allReduce(Tensor.from(v) as F32)).data);
    return this.gate.parameters();
  }

  /**
   * Tells `scheduler` what this device's gate routed in its last forward, as `step` of MoE layer
   * `layer`: a message over the rings, one of the scheduler's `load$`.
   */
  publish(scheduler: ActorRef, step: number, layer: number): void {
    this.context.tell(scheduler, { type: 'gate-load', step, layer, source: this.context.device, counts: Array.from(this.gate.lastRouting?.counts ?? []) } satisfies SchedulerMessage);
  }

  receive(msg: GateMessage): number[] | OwnedState {
    if (msg.type === 'state') return this.state();
    return Array.from(this.gate.lastRouting?.counts ?? []);
  }
}
registerActor(GateActor);
