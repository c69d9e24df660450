/**
 * The expert actor: one replica of one expert of one MoE layer (any registered Expert class), hosted on a device. It owns its
 * parameters and their Adam moments (actors/trainable.ts), so a replica is made by `system.clone`
 * and moved by `system.migrate` (state shipped device to device over the channels), and dropped by
 * `system.stop`. The trainer on the same device calls it directly (`ctx.local`): forward, backward
 * and update are function calls in the step, not messages.
 */
import { registerActor } from '../src/runtime/actor.js';
import type { Backend } from '../src/kernels/backend.js';
import { makeExpert, type Expert } from '../src/moe/experts.js';
import type { OwnedState } from '../src/moe/owned-state.js';
import type { Parameter, ParamDType } from '../src/nn/parameter.js';
import { Rng } from '../src/nn/random.js';
import { TrainableActor, type TrainableArgs } from './trainable.js';

export interface ExpertArgs extends TrainableArgs {
  /** e.g. `block0.moe.expert3`. */
  name: string;
  dModel: number;
  dFF: number;
  /** The expert class's registered name (default `ffn`). */
  kind?: string;
  /** Initialisation seed (DistributedMoELayer.seeds): the same expert starts the same anywhere. */
  seed: number;
  dtype?: ParamDType;
  outStd?: number;
}

export type ExpertMessage =
  /** Parameters, moments and optimizer step (for inspection and tests; replicas must agree). */
  | { type: 'state' }
  | { type: 'describe' };

export class ExpertActor extends TrainableActor<ExpertArgs> {
  static override actorName = 'Expert';
  expert!: Expert;

  protected build(be: Backend): Parameter[] {
    const a = this.args;
    this.expert = makeExpert(be, a.kind, { name: a.name, dModel: a.dModel, dFF: a.dFF, rng: new Rng(a.seed), dtype: a.dtype, outStd: a.outStd, skipInit: this.overwritten });
    return this.expert.parameters();
  }

  receive(msg: ExpertMessage): OwnedState | { name: string; step: number; parameters: number } {
    if (msg.type === 'state') return this.state();
    return { name: this.args.name, step: this.optimizer?.step ?? 0, parameters: this.expert.parameters().reduce((n, p) => n + p.value.size, 0) };
  }
}
registerActor(ExpertActor);
