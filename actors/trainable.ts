/**
 * Base of actors that own parameters (gates and experts). Training: it owns the parameters' Adam
 * moments too, and its snapshot is parameters + moments + optimizer step, so `clone`, `migrate` and
 * crash recovery carry the exact training state. Serving (no `optimizer`): weights only, loaded
 * from a checkpoint on the device. Subclasses build their module from `args`.
 */
import { Actor, type ActorClass, type ActorContext } from '../src/runtime/actor.js';
import { sharedBackend, type Backend } from '../src/kernels/backend.js';
import { AdamW, type AdamWOptions } from '../src/nn/adamw.js';
import type { Parameter } from '../src/nn/parameter.js';
import { ownedState, setOwnedState, type OwnedState } from '../src/moe/owned-state.js';
import { errors } from '../src/errors.js';
import { loadCheckpointShared } from '../src/train/checkpoint.js';

export interface TrainableArgs {
  /** Logical name (checkpoints address parameters by it). */
  name: string;
  /** AdamW settings; absent for inference (weights only, no moments). */
  optimizer?: AdamWOptions;
  /** Take the weights from this checkpoint (read on the device, by name) instead of the seed. */
  checkpoint?: string;
  backend: string;
}

export abstract class TrainableActor<A extends TrainableArgs = TrainableArgs> extends Actor {
  optimizer: AdamW | null = null;
  private params: Parameter[] = [];
  /** Set by `restore`: the state to put in place once the module is built. */
  protected restoring: OwnedState | null = null;

  constructor(readonly args: A) {
    super();
  }

  /** Whether the weights built will be overwritten (restored state or a checkpoint): build them with `skipInit`. */
  protected get overwritten(): boolean {
    return this.restoring !== null || Boolean(this.args.checkpoint);
  }

  /** Builds the module (initialised from `args`) and returns its parameters. */
  protected abstract build(be: Backend, ctx: ActorContext): Parameter[];

  override async started(ctx: ActorContext): Promise<void> {
    const be = await sharedBackend(this.args.backend);
    const params = (this.params = this.build(be, ctx));
    const { checkpoint, optimizer, name } = this.args;
    if (checkpoint) {
      const ckpt = loadCheckpointShared(checkpoint);
      for (const p of params) {
        const t = ckpt.tensors.get(p.name);
        if (!t || t.data.length !== p.value.size) throw errors.checkpoint(checkpoint, t ? `holds ${t.data.length} values for ${p.name}, ${name} needs ${p.value.size}` : `lacks parameter ${p.name}`);
        p.value.data.set(t.data);
      }
    }
    this.optimizer = optimizer ? new AdamW(be, params, optimizer) : null;
    if (this.restoring) setOwnedState(name, params, this.optimizer, this.restoring);
    this.restoring = null;
  }

  state(): OwnedState {
    return ownedState(this.params, this.optimizer);
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
