import type { Subscription } from 'rxjs';
import { errors } from '../errors.js';
import type { ActorRef } from '../runtime/actor.js';
import type { RuntimeEvent } from '../runtime/events.js';
import type { ActorSystem } from '../runtime/system.js';
import { stashedShares } from '../../actors/trainer-snapshots.js';
import type { MoEActors, StepReport } from '../../actors/moe-trainer.js';
import type { TrainerState } from './trainer-state.js';

/** What happened when a step failed with a device, and how training went on. */
export interface RecoveryReport {
  /** The step that failed. */
  step: number;
  /** Devices that went down during it, and why. */
  crashed: { device: number; reason: string }[];
  /** Every actor brought back on a rebuilt device, and from where (a live replica, or its arguments). */
  restored: { id: string; device: number; source: 'replica' | 'snapshot' | 'initial' }[];
  /**
   * `rerun`: every part came back from a live replica and nothing had been updated: the step runs
   * again. `kept`: the step had completed on every surviving device (the crash came after its last
   * exchange): training goes on after it. `rollback`: some part had no live replica (an expert on
   * the lost device alone) or the devices disagreed, so every device loads the in-memory snapshot of
   * `resumedAt` and the steps from there run again.
   */
  action: 'rerun' | 'kept' | 'rollback';
  resumedAt: number;
  /** Steps that run again. */
  rerun: number[];
  /** From the failure to training going on. */
  ms: number;
}

export interface RecoveryOptions {
  /** Take an in-memory snapshot at the boundary before every this many steps (and before the first). 0: none. */
  snapshotEvery: number;
  /** Recoveries of one step before the run stops (a crash that keeps coming back). */
  maxRecoveries: number;
}

/**
 * Crash recovery for distributed training. Watches the runtime's events, takes in-memory snapshots
 * on the devices (each trainer stashes its share in shared memory that outlives its thread), and after a
 * step fails with a device: waits until the supervisor has rebuilt it and restored its actors (the
 * trainer and gates from a data-parallel peer, experts from a live replica, else from their
 * arguments), then decides whether to run the step again, keep it, or roll every device back to
 * the last snapshot.
 */
export class CrashRecovery {
  private readonly events: RuntimeEvent[] = [];
  private readonly sub: Subscription;
  /** The step of the last snapshot every trainer took. */
  snapshotAt: number | null = null;
  private taking: Promise<void> = Promise.resolve();
  private readonly attempts = new Map<number, number>();

  constructor(
    private readonly system: ActorSystem,
    private readonly trainers: ActorRef[],
    readonly options: RecoveryOptions,
  ) {
    this.sub = system.events$.subscribe((e) => this.events.push(e));
  }

  /** Where the event log stands now (a step's failure is judged against the events after its mark). */
  mark(): number {
    return this.events.length;
  }

  /** Every trainer stashes its share of the state before `step` (kept beyond its device thread); not awaited by training. */
  snapshot(step: number): void {
    if (this.options.snapshotEvery <= 0) return;
    const taking = Promise.all(this.trainers.map((ref) => this.system.ask(ref, { type: 'hold', step })));
    this.taking = this.taking.then(() => taking).then(
      () => void (this.snapshotAt = step),
      () => undefined, // cut short by a crash: the previous snapshot stands
    );
  }

  /** Whether `step` is a boundary to snapshot at. */
  due(step: number): boolean {
    return this.options.snapshotEvery > 0 && step % this.options.snapshotEvery === 0;
  }

  /** Devices that went down since `mark`. */
  crashedSince(mark: number): { device: number; reason: string }[] {
    return this.events.slice(mark).flatMap((e) => (e.type === 'device-down' ? [{ device: e.device, reason: e.reason }] : []));
  }

  /**
   * After `step` failed with devices down since `mark`: waits for their actors to be restored, then
   * brings every trainer to one consistent state. `expected` is the optimizer step every trainer
   * had before `step`; `reattach` gives every trainer the actors' current refs (the restored ones
   * have new incarnations).
   */
  async recover(step: number, mark: number, expected: number, reattach: () => Promise<unknown>): Promise<Omit<RecoveryReport, 'ms'>> {
    const crashed = this.crashedSince(mark);
    const n = (this.attempts.get(step) ?? 0) + 1;
    this.attempts.set(step, n);
    const what = crashed.map((c) => `device ${c.device} (${c.reason})`).join(', ');
    if (n > this.options.maxRecoveries) throw errors.crashLoop(step, n, what);
    const devices = [...new Set(crashed.map((c) => c.device))];
    await this.restoredOn(devices, step);
    await this.taking;
    // Every trainer's failed step has settled: nothing is in flight, so the collectives start afresh.
    await this.system.resetCollectives();
    await reattach();
    // What the training devices got back (a service device's scheduler restarts from its arguments by design).
    const restored = this.events.slice(mark).flatMap((e) => (e.type === 'actor-restored' && e.ref.device < this.trainers.length ? [{ id: e.ref.id, device: e.ref.device, source: e.source }] : []));
    const progress = await Promise.all(this.trainers.map((t) => this.system.ask<number>(t, { type: 'progress' })));
    const same = progress.every((p) => p === progress[0]);
    // A part that came back from its arguments (an expert with no live replica) lost its training.
    const fresh = restored.some((r) => r.source !== 'replica');
    if (!fresh && same && progress[0] === expected) return { step, crashed, restored, action: 'rerun', resumedAt: step, rerun: [step] };
    if (!fresh && same && progress[0] === expected + 1) return { step, crashed, restored, action: 'kept', resumedAt: step + 1, rerun: [] };
    const at = this.snapshotAt;
    if (at === null) throw errors.deviceCrashed(crashed[0]!.device, `during step ${step}, and ${fresh ? 'a part it held alone' : 'the devices\' states disagree and it'} cannot be rebuilt without an in-memory snapshot (snapshotEvery is ${this.options.snapshotEvery})`);
    const trainers = this.trainers.map((t) => this.system.resolve(t));
    await Promise.all(trainers.map((t) => this.system.ask(t, { type: 'rollback', step: at, trainers })));
    return { step, crashed, restored, action: 'rollback', resumedAt: at, rerun: [...Array(step - at + 1).keys()].map((i) => at + i) };
  }

  /** Every device's share of the last snapshot, read here from the stashes (for a checkpoint of the last good state). */
  async lastGoodState(): Promise<{ step: number; state: TrainerState } | null> {
    await this.taking;
    const at = this.snapshotAt;
    if (at === null) return null;
    const state = stashedShares(at, this.trainers.map((t) => t.id), (id, key) => this.system.stashed(id, key));
    return state ? { step: at, state } : null;
  }

  /** Resolves once every actor on `devices` is back (rejects, naming it, if one of them failed for good); checked on every runtime event. */
  private restoredOn(devices: number[], step: number): Promise<void> {
    const ms = this.system.options.askTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      const check = (): boolean => {
        const failed = this.events.find((e) => e.type === 'device-failed' && devices.includes(e.device));
        if (failed && failed.type === 'device-failed') return finish(errors.deviceFailed(failed.device, this.system.device(failed.device).rebuildable === false ? null : this.system.options.maxRestarts, `during step ${step}: ${failed.reason}`));
        const waiting = devices.flatMap((d) => this.system.actorsOn(d)).some((a) => a.status !== 'active');
        return !waiting && devices.every((d) => this.system.device(d).state === 'up') && finish();
      };
      const finish = (e?: Error): true => {
        clearTimeout(timer);
        sub.unsubscribe();
        if (e) reject(e);
        else resolve();
        return true;
      };
      const timer = setTimeout(() => finish(errors.deviceCrashed(devices[0]!, `its actors were not restored within ${ms} ms of step ${step}`)), ms);
      // The restore's last event may come before the directory entry is active again: check once more a turn later.
      const sub = this.system.events$.subscribe(() => void (check() || setImmediate(check)));
      check();
    });
  }

  close(): void {
    this.sub.unsubscribe();
  }
}

/** The actors' refs as they are now (a restored actor has a new incarnation; direct calls need it). */
export function currentRefs(system: ActorSystem, actors: MoEActors): MoEActors {
  return { gates: actors.gates.map((g) => g.map((r) => system.resolve(r))), experts: actors.experts.map((l) => l.map((e) => e.map((r) => system.resolve(r)))) };
}

/**
 * The step's reports when it completed on every surviving device but not on a lost one: the lost
 * device's report is the first survivor's with its own routing and timings zeroed (they died with it).
 */
export function survivorsReports(settled: PromiseSettledResult<StepReport>[]): StepReport[] {
  const ok = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const any = ok[0]!;
  return settled.map((s) => (s.status === 'fulfilled' ? s.value : { ...any, expertCounts: any.expertCounts.map((c) => c.map(() => 0)), droppedTokens: 0, expertRows: 0, expertMs: any.expertMs.map(() => 0), computeMs: 0, exchangeMs: 0, heldMs: 0 }));
}

/**
 * The error a run stops with after a crash it cannot recover from; with `save`, the last in-memory
 * snapshot is written first and the error says where.
 */
export async function withLastGood(e: Error, recovery: CrashRecovery, save: ((s: { step: number; state: TrainerState }) => Promise<void>) | null): Promise<Error> {
  if (!save) return e;
  try {
    const good = await recovery.lastGoodState();
    if (!good) return e;
    await save(good);
    e.message += ` (the last good state, before step ${good.step}, is saved)`;
  } catch (inner) {
    e.message += ` (the last good state could not be saved: ${(inner as Error).message})`;
  }
  return e;
}
