/**
 * Base of actors that train parameters of their own (gates and experts): it owns the parameters'
 * Adam moments, and its snapshot is parameters + moments + optimizer step, so `clone`, `migrate`
 * and crash recovery carry the exact training state. Subclasses build their module from `args`.
 */
import { Actor, type ActorClass, type ActorContext } from '../src/runtime/actor.js';
import { sharedBackend, type Backend } from '../src/kernels/backend.js';
import { AdamW, type AdamWOptions } from '../src/nn/adamw.js';
import type { Parameter } from '../src/nn/parameter.js';
import { ownedState, setOwnedState, type OwnedState } from '../src/moe/owned-state.js';

export interface TrainableArgs {
  /** Logical name (checkpoints address parameters by it). */
  name: string;
  optimizer: AdamWOptions;
  backend: string;
}

export abstract class TrainableActor<A extends TrainableArgs = TrainableArgs> extends Actor {
  optimizer!: AdamW;
  /** Set by `restore`: the state to put in place once the module is built. */
  protected restoring: OwnedState | null = null;

  constructor(readonly args: A) {
    super();
  }

  /** Builds the module (initialised from `args`) and returns its parameters. */
  protected abstract build(be: Backend, ctx: ActorContext): Parameter[];

  override async started(ctx: ActorContext): Promise<void> {
    const be = await sharedBackend(this.args.backend);
    const params = this.build(be, ctx);
    this.optimizer = new AdamW(be, params, this.args.optimizer);
    if (this.restoring) setOwnedState(this.args.name, params, this.optimizer, this.restoring);
    this.restoring = null;
  }

  state(): OwnedState {
    return ownedState(this.optimizer.parameters, this.optimizer);
  }

  override snapshot(): unknown {
    return { args: this.args, state: this.state() };
  }

  static override restore(this: ActorClass, snapshot: unknown): Actor {
    const s = snapshot as { args: TrainableArgs; state: OwnedState };
    const actor = new this(s.args) as TrainableActor;
    actor.restoring = s.state;
    return actor;
  }
}
