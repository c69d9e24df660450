/**
 * A trainer's in-memory snapshots, for crash recovery without checkpoint files. At a step boundary
 * every trainer packs its share of the training state (the parts it is the lowest-numbered holder
 * of, as in a checkpoint: values and Adam moments) into a SharedArrayBuffer and stashes it
 * (`ctx.stash`): the main thread holds the buffer by reference, so it outlives the device thread and
 * no byte is copied anywhere else. Two keys alternate, so a snapshot cut short by a crash leaves the
 * one before it whole. After a crash every trainer reads every device's share of the same step
 * from the stashes and loads what it hosts now, whatever the placement has become since.
 */
import { errors } from '../src/errors.js';
import type { ActorContext, ActorRef } from '../src/runtime/actor.js';
import type { OwnedParams, TrainerState } from '../src/train/trainer-state.js';

/** What is stashed beside a share's buffer: which step, and where each tensor lies in it. */
export interface ShareMeta {
  step: number;
  device: number;
  index: { name: string; shape: number[]; offset: number; length: number }[];
  optimizerStep: number;
  dataRng: number;
}

export type SnapshotMessage =
  /** Take this device's share at the boundary before `step`. */
  { type: 'hold'; step: number };

const KEYS = ['snapshot-0', 'snapshot-1'] as const;

/**
 * Packs parameters and their Adam moments into one shared buffer, named as checkpoints name them
 * (one copy of every value, straight from the live tensors).
 */
export function packShare(step: number, device: number, parts: OwnedParams[], progress: { optimizerStep: number; dataRng: number }): { meta: ShareMeta; buffer: SharedArrayBuffer } {
  const index: ShareMeta['index'] = [];
  const sources: Float32Array[] = [];
  let n = 0;
  for (const { params, optimizer } of parts) {
    for (const p of params) {
      const mv = optimizer.moments(p);
      for (const [name, data] of [[p.name, p.value.data], [`${p.name}#m`, mv.m.data], [`${p.name}#v`, mv.v.data]] as const) {
        index.push({ name, shape: [...p.value.shape], offset: n, length: data.length });
        sources.push(data as Float32Array);
        n += data.length;
      }
    }
  }
  const buffer = new SharedArrayBuffer(4 * n);
  const blob = new Float32Array(buffer);
  index.forEach((e, i) => blob.set(sources[i]!, e.offset));
  return { meta: { step, device, index, ...progress }, buffer };
}

/** One device's shares, as views of their stashed buffers. */
function unpack(meta: ShareMeta, buffer: SharedArrayBuffer, into: TrainerState['tensors']): void {
  const blob = new Float32Array(buffer);
  for (const e of meta.index) into[e.name] = { shape: e.shape, data: blob.subarray(e.offset, e.offset + e.length) };
}

export class SnapshotStore {
  private taken = 0;

  /** Stashes this device's share under the key the last snapshot did not use. */
  async hold(share: { meta: ShareMeta; buffer: SharedArrayBuffer }, ctx: ActorContext): Promise<void> {
    await ctx.stash(KEYS[this.taken++ % 2]!, share.buffer, share.meta);
  }

  /** Every device's share at `step`, read from the stashes of `trainers` (one per device, in device order). */
  async gather(step: number, trainers: ActorRef[], ctx: ActorContext): Promise<TrainerState> {
    const shares = await Promise.all(trainers.map((t, d) => findShare(step, d, t.id, ctx)));
    return mergeShares(shares);
  }
}

async function findShare(step: number, device: number, id: string, ctx: ActorContext): Promise<{ meta: ShareMeta; buffer: SharedArrayBuffer }> {
  for (const key of KEYS) {
    const s = await ctx.unstash<ShareMeta>(key, id);
    if (s?.meta.step === step) return s;
  }
  throw errors.badArgument('snapshot', `device ${device} kept no share of step ${step}`);
}

/** Every device's share as one state (each tensor is in exactly one share). */
export function mergeShares(shares: { meta: ShareMeta; buffer: SharedArrayBuffer }[]): TrainerState {
  const state: TrainerState = { tensors: {}, optimizerStep: shares[0]!.meta.optimizerStep, dataRng: shares[0]!.meta.dataRng };
  for (const s of shares) unpack(s.meta, s.buffer, state.tensors);
  return state;
}

/** The same, read on the main thread from the stashes it holds (to save the last good state when a run must stop). */
export function stashedShares(step: number, trainerIds: string[], stashed: (id: string, key: string) => { buffer: SharedArrayBuffer; meta: unknown } | undefined): TrainerState | null {
  const shares = trainerIds.map((id) => KEYS.map((k) => stashed(id, k)).find((s) => (s?.meta as ShareMeta | undefined)?.step === step));
  if (shares.some((s) => !s)) return null;
  return mergeShares(shares as { meta: ShareMeta; buffer: SharedArrayBuffer }[]);
}
