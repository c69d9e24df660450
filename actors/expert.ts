/**
 * The expert actor: one replica of one expert of one MoE layer (any registered Expert class), hosted on a device. It owns its
 * parameters and their Adam moments (actors/trainable.ts), so a replica is made by `system.clone`
 * and moved by `system.migrate` (state shipped device to device over the channels), and dropped by
 * `system.stop`. It computes from messages: the MoE layers on every device send it rows
 * (src/runtime/row-post.ts, over the all-to-all), it runs its forward on a tape of its own and its
 * backward when the rows' gradients come (src/moe/expert-runner.ts), and it takes its optimizer
 * step when told to update.
 */
import { registerActor } from '../src/runtime/actor.js';
import type { Backend } from '../src/kernels/backend.js';
import { errors } from '../src/errors.js';
import { makeExpert, type Expert } from '../src/moe/experts.js';
import { ExpertRunner } from '../src/moe/expert-runner.js';
import type { OwnedState } from '../src/moe/owned-state.js';
import type { Parameter, ParamDType } from '../src/nn/parameter.js';
import { Rng } from '../src/nn/random.js';
import type { RowHandler, RowKind } from '../src/runtime/row-post.js';
import type { F32 } from '../src/tensor/tensor.js';
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
  | { type: 'describe' }
  /** One optimizer step on the gradients the backward passes (and the replicas' all-reduce) left. */
  | { type: 'update'; lr: number; gradNorm?: number };

export class ExpertActor extends TrainableActor<ExpertArgs> implements RowHandler {
  static override actorName = 'Expert';
  expert!: Expert;
  private runner!: ExpertRunner;

  protected build(be: Backend): Parameter[] {
    const a = this.args;
    this.expert = makeExpert(be, a.kind, { name: a.name, dModel: a.dModel, dFF: a.dFF, rng: new Rng(a.seed), dtype: a.dtype, outStd: a.outStd, skipInit: this.overwritten });
    this.runner = new ExpertRunner(be, this.expert);
    return this.expert.parameters();
  }

  /** Row messages (delivered by the layers' exchange): the forward or backward of pass `pass`. */
  rows(kind: RowKind, x: F32, pass: number): Promise<F32> {
    return this.runner.rows(kind, x, pass);
  }

  async receive(msg: ExpertMessage): Promise<OwnedState | { name: string; step: number; parameters: number } | void> {
    if (msg.type === 'state') return this.state();
    if (msg.type === 'update') {
      if (!this.optimizer) throw errors.badArgument(`${this.args.name} update`, 'this expert serves (no optimizer)');
      return this.optimizer.update(msg.lr, { gradNorm: msg.gradNorm });
    }
    return { name: this.args.name, step: this.optimizer?.step ?? 0, parameters: this.expert.parameters().reduce((n, p) => n + p.value.size, 0) };
  }
}
registerActor(ExpertActor);
