/**
 * A trainer's in-memory snapshots, for crash recovery without checkpoint files. At a step boundary
 * every trainer takes its share of the training state (the parts it is the lowest-numbered holder
 * of, as in a checkpoint, values copied), keeps it, and sends a copy to its buddy device's trainer
 * over the rings. After a crash the buddy still has the lost device's share: every trainer gathers
 * all shares of the same step device to device (`ctx.ask`) and loads what it hosts now, whatever
 * the placement has become since.
 */
import { errors } from '../src/errors.js';
import type { ActorContext, ActorRef } from '../src/runtime/actor.js';
import type { TrainerState } from '../src/train/trainer-state.js';

export interface HeldShare {
  step: number;
  device: number;
  state: TrainerState;
}

export type SnapshotMessage =
  /** Take this device's share at the boundary before `step` and send a copy to `buddy`. */
  | { type: 'hold'; step: number; buddy: ActorRef }
  /** A copy of `share` to keep for the device it came from. */
  | { type: 'keep'; share: HeldShare }
  /** The share of `device` at `step`, if this trainer holds it. */
  | { type: 'held'; device: number; step: number };

export class SnapshotStore {
  /**
   * Shares by device: this device's own and the copies it keeps for others, the two latest of each
   * (a snapshot cut short by a crash must not leave a device without the complete one before it).
   */
  private readonly shares = new Map<number, HeldShare[]>();

  /** Keeps this device's share and sends the buddy its copy (encoded now, so later steps cannot tear it). */
  hold(share: HeldShare, buddy: ActorRef, ctx: ActorContext): void {
    this.keep(share);
    if (buddy.device !== ctx.device) ctx.tell(buddy, { type: 'keep', share } satisfies SnapshotMessage);
  }

  keep(share: HeldShare): void {
    const list = (this.shares.get(share.device) ?? []).filter((s) => s.step !== share.step);
    list.push(share);
    list.sort((a, b) => a.step - b.step);
    this.shares.set(share.device, list.slice(-2));
  }

  held(device: number, step: number): HeldShare {
    const s = this.find(device, step);
    if (!s) throw errors.badArgument('snapshot', `no share of device ${device} at step ${step} here (held: ${this.shares.get(device)?.map((x) => `step ${x.step}`).join(', ') || 'none'})`);
    return s;
  }

  private find(device: number, step: number): HeldShare | undefined {
    return this.shares.get(device)?.find((s) => s.step === step);
  }

  /** Every device's share at `step`, from here where held, else from the trainer in `holders` that holds it. */
  async gather(step: number, devices: number, holders: ActorRef[], ctx: ActorContext): Promise<TrainerState> {
    const shares = await Promise.all(
      [...Array(devices).keys()].map((d) => {
        const mine = this.find(d, step);
        if (mine) return mine;
        return ctx.ask<HeldShare>(holders[d]!, { type: 'held', device: d, step } satisfies SnapshotMessage, 60_000);
      }),
    );
    const union: TrainerState = { tensors: {}, optimizerStep: shares[0]!.state.optimizerStep, dataRng: shares[0]!.state.dataRng };
    for (const s of shares) Object.assign(union.tensors, s.state.tensors);
    return union;
  }
}
