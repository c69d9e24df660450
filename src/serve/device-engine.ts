import { Subject } from 'rxjs';
import type { ForwardReport, MoEServerArgs } from '../../actors/moe-server.js';
import type { MoEActors, MoELayerSpec } from '../../actors/moe-wiring.js';
import { applyPlacement, spawnMoEActors, type PlacementMoves } from '../train/moe-actors.js';
import type { CarriedOut, LayerPlan, SchedulerArgs, SchedulerMessage } from '../../actors/scheduler.js';
import { errors } from '../errors.js';
import { calibrate } from '../sched/calibrate.js';
import { expertTimes } from '../stats.js';
import type { CostProfile } from '../sched/cost.js';
import { isFixedPlacement, padsToMax, runsInScheduler, schedulerHasSpareCore, shadowingPolicies } from '../sched/policies/index.js';
import type { ActorRef } from '../runtime/actor.js';
import type { HostsOptions } from '../hosts/cluster.js';
import { ActorSystem } from '../runtime/system.js';
import { siblingModule } from '../runtime/thread.js';
import type { ModelInfo } from './build.js';
import type { Engine, ForwardResult, ServeEvent } from './engine.js';

const serverModule = siblingModule('../../actors/moe-server', import.meta.url);
const schedulerModule = siblingModule('../../actors/scheduler', import.meta.url);
const expertModule = siblingModule('../../actors/expert', import.meta.url);
const gateModule = siblingModule('../../actors/gate', import.meta.url);

export interface DeviceEngineOptions {
  devices: number;
  /** Placement policy the scheduler actor runs on live routing (static: never moves). */
  policy: string;
  /** Cost profile to plan with (training: false is forced); default: measured on this machine. */
  profile?: CostProfile;
  /** Expert slots per device; default: twice what an even spread needs. */
  slots?: number;
  /** The scheduler sees routing summed over passes of at least this many ms (default 50; 0: every pass). */
  loadWindowMs?: number;
  backend: string;
  /** A forward pass that takes longer than this fails (a hung device). */
  timeoutMs?: number;
  /** Restarts in a row after crashes before the engine gives up. */
  maxRestarts?: number;
  /** Module URLs every device loads (policies of your own). */
  modules?: string[];
  /** Devices of other machines (docs/hosts.md): every device is a host's, `devices` in all. */
  hosts?: HostsOptions;
}

/**
 * A checkpoint served on devices (worker threads): one server actor per device, experts where the
 * placement puts them, each batch split over the devices by rows and its tokens moved to their
 * experts by all-to-all. After every forward pass the scheduler actor sees the routing and may answer
 * with a plan; the devices switch between two passes, so in-flight requests carry on under the new
 * placement. A device crash fails the pass it interrupted and rebuilds every device (a pass is a
 * collective: the survivors may be waiting on the dead one), keeping the current placement.
 */
export class DeviceEngine implements Engine {
  readonly events$ = new Subject<ServeEvent>();
  private system!: ActorSystem;
  private servers: ActorRef[] = [];
  /** The gate and expert actors (weights only) that carry out the placement. */
  private actors!: MoEActors;
  private scheduler: ActorRef | null = null;
  private reps: number[][][];
  private step = 0;
  private recovering: Promise<void> | null = null;
  private failed: Error | null = null;
  /** Why the devices went down, when the runtime reported it before a pass did. */
  private crashCause: Error | null = null;
  private closed = false;
  private busy = false;
  private pinned: number[][][] | null = null;
  /** Plans the scheduler has answered with, not yet carried out. */
  private arrived: LayerPlan[] = [];
  /** Bumped by every (re)boot: plans from a scheduler of an earlier one are dropped. */
  private generation = 0;
  /** The last switch's measured time, told to the scheduler with the next routing. */
  private lastSwitchMs: number | undefined;
  /** The next pass runs right after a switch: its time is not a normal pass's. */
  private afterSwitch = false;
  /** Routing and time of the passes since the scheduler last heard (clean: none ran right after a switch). */
  private window: { counts: number[][]; ms: number; clean: boolean } | null = null;
  /**
   * Passes and placement switches take turns: a switch clones, moves and stops expert actors, which
   * must not happen under a pass that is using them.
   */
  private lane: Promise<unknown> = Promise.resolve();

  private inLane<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lane.then(fn);
    this.lane = run.catch(() => undefined);
    return run;
  }

  private constructor(private readonly path: string, private readonly info: ModelInfo, private readonly opts: Required<Omit<DeviceEngineOptions, 'profile' | 'hosts'>> & { profile: CostProfile | null; hosts?: HostsOptions }) {
    this.reps = Array.from({ length: info.moeLayers }, () => Array.from({ length: info.experts }, (_, e) => [e % opts.devices]));
  }

  static async start(path: string, info: ModelInfo, o: DeviceEngineOptions): Promise<DeviceEngine> {
    if (!Number.isInteger(o.devices) || o.devices < 2) throw errors.badArgument('loadModel', `devices must be an integer ≥ 2 for device serving, got ${o.devices}`);
    if (o.devices > info.experts) throw errors.badArgument('loadModel', `${o.devices} devices for ${info.experts} experts: every device needs at least one expert`);
    const moving = !isFixedPlacement(o.policy);
    const profile = moving ? (o.profile ?? (await calibrate({ dModel: info.dModel, dFF: info.dFF, devices: o.devices, backend: o.backend, allReduce: false, hosts: o.hosts }))) : null;
    // Defaults by `??`: an option passed as undefined (a flag not given) keeps its default.
    const opts = { ...o, slots: o.slots ?? 2 * Math.ceil(info.experts / o.devices), timeoutMs: o.timeoutMs ?? 60_000, loadWindowMs: o.loadWindowMs ?? 50, maxRestarts: o.maxRestarts ?? 3, modules: o.modules ?? [], profile };
    const engine = new DeviceEngine(path, info, opts);
    await engine.boot();
    return engine;
  }

  get devices(): number {
    return this.opts.devices;
  }

  get healthy(): boolean {
    return !this.recovering && !this.failed && !this.closed;
  }

  get state(): 'ok' | 'recovering' | 'failed' {
    return this.failed ? 'failed' : this.recovering ? 'recovering' : 'ok';
  }

  replicas(): number[][][] {
    return this.reps.map((l) => l.map((r) => [...r]));
  }

  private async boot(): Promise<void> {
    this.generation++;
    this.crashCause = null;
    this.arrived = [];
    this.window = null;
    const { devices, backend, policy, profile, slots } = this.opts;
    // The scheduler, when the policy has one, runs on a service device of its own when the machine
    // has a core to spare beyond the devices, else on the last device (as in training).
    const planning = profile !== undefined && runsInScheduler(policy);
    const own = planning && schedulerHasSpareCore(devices);
    const system = await ActorSystem.start({ devices: this.opts.hosts ? 0 : devices, hosts: this.opts.hosts, serviceDevices: own ? 1 : 0, modules: [serverModule, schedulerModule, expertModule, gateModule, ...this.opts.modules], askTimeoutMs: this.opts.timeoutMs, maxRestarts: 0 });
    if (system.options.devices !== devices) {
      await system.stop();
      throw errors.badArgument('loadModel', `the hosts offer ${system.options.devices} device(s) together; devices is ${devices}`);
    }
    try {
      // FasterMoE (and flexmoe-react) shadow within each pass on the devices themselves; FlexMoE and EPLB plan in the scheduler actor.
      const shadowing = shadowingPolicies.includes(policy) && profile ? { policy, profile: { ...profile, training: false }, slots, topk: this.info.topk } : undefined;
      const args: MoEServerArgs = { checkpoint: this.path, backend, shadowing, padMax: padsToMax(policy) };
      this.servers = await Promise.all([...Array(devices).keys()].map((d) => system.spawn('MoEServer', args, { device: d })));
      // Gates and experts are actors that read their weights from the checkpoint on their device.
      const specs = await system.ask<MoELayerSpec[]>(this.servers[0]!, { type: 'specs' });
      this.actors = await spawnMoEActors(system, specs, this.reps, { backend, checkpoint: this.path, localRouting: true });
      await Promise.all(this.servers.map((ref) => system.ask(ref, { type: 'attach', replicas: this.reps, actors: this.actors })));
      const sched: SchedulerArgs | null = profile && planning ? { policy, profile: { ...profile, training: false }, devices, slots, replicas: this.reps, topk: this.info.topk, actors: this.actors } : null;
      this.scheduler = sched ? await system.spawn('Scheduler', sched, { device: own ? devices : devices - 1 }) : null;
    } catch (e) {
      await system.stop();
      throw e;
    }
    this.system = system;
    // A device thread that dies while the engine is idle starts recovery at once, so health checks
    // see it without waiting for a request to hit the dead device.
    system.events$.subscribe((e) => {
      if (e.type !== 'device-down' || this.system !== system || this.closed || this.recovering) return;
      // Passes in flight fail with this cause, not with the stop that the rebuild begins with.
      this.crashCause = errors.deviceCrashed(e.device, e.reason);
      void this.crashed(this.crashCause);
    });
  }

  async forward(inputs: Int32Array | Float32Array, rows: number, pick?: number[]): Promise<ForwardResult> {
    if (this.closed) throw errors.modelClosed('forward');
    if (this.recovering) await this.recovering;
    if (this.failed) throw this.failed;
    return this.inLane(async () => {
      this.busy = true;
      try {
        return await this.pass(inputs, rows, pick);
      } finally {
        this.busy = false;
      }
    });
  }

  private async pass(inputs: Int32Array | Float32Array, rows: number, pick?: number[]): Promise<ForwardResult> {
    const D = this.opts.devices, w = this.info.inputWidth, out = this.info.outputs;
    const t0 = performance.now();
    // Rows split evenly by position; a device with no rows computes one copy of row 0 (every
    // device must take part in the all-to-alls), and its answer is dropped.
    const share = (d: number) => [Math.floor((d * rows) / D), Math.floor(((d + 1) * rows) / D)] as const;
    const asks = this.servers.map((ref, d) => {
      const [a, b] = share(d), n = Math.max(1, b - a), from = b > a ? a : 0;
      const part = inputs.slice(from * w, (from + n) * w);
      return this.system.ask<ForwardReport>(ref, { type: 'forward', inputs: part, rows: n, pick: pick?.slice(from, from + n) });
    });
    let reports: ForwardReport[];
    try {
      reports = await Promise.all(asks);
    } catch (e) {
      throw this.crashed(this.crashCause ?? (e as Error));
    }
    const logits = new Float32Array(rows * out);
    reports.forEach((r, d) => {
      const [a, b] = share(d);
      if (b > a) logits.set(r.logits.subarray(0, (b - a) * out), a * out);
    });
    const counts = reports[0]!.counts.map((layer, l) => layer.map((_, e) => reports.reduce((s, r) => s + r.counts[l]![e]!, 0)));
    if (this.pinned) await this.applyPinned();
    else if (this.scheduler) await this.rebalance(counts, performance.now() - t0);
    return { logits, counts, shadows: reports[0]!.shadows, ...expertTimes(reports.map((r) => r.expertMs)) };
  }

  /**
   * Pins a placement (replicas[layer][e] = devices), carried out after the pass in flight, like a
   * scheduler's plan; a moving policy's scheduler then plans from it (drills, tests).
   */
  async setPlacement(next: number[][][]): Promise<void> {
    const { experts, moeLayers } = this.info, D = this.opts.devices;
    if (next.length !== moeLayers || next.some((l) => l.length !== experts || l.some((r) => !r.length || r.some((d) => !Number.isInteger(d) || d < 0 || d >= D)))) {
      throw errors.badArgument('setPlacement', `expected ${moeLayers} layers × ${experts} experts, each with 1+ devices in [0, ${D})`);
    }
    this.pinned = next.map((l) => l.map((r) => [...new Set(r)].sort((a, b) => a - b)));
    // Applied at the end of the pass in flight; an idle engine applies it now (after any queued pass).
    if (!this.busy) await this.inLane(() => this.applyPinned());
  }

  private async applyPinned(): Promise<void> {
    const next = this.pinned;
    if (!next) return;
    this.pinned = null;
    this.arrived = [];
    const plans = next.map((replicas, layer) => ({ layer, ops: [], version: -1, replicas, predictedMsBefore: 0, predictedMsAfter: 0, migrationMs: 0 }));
    await this.switchTo(plans, () =>
      this.scheduler
        ? this.system.ask<CarriedOut>(this.scheduler, { type: 'carry-out', replicas: next } satisfies SchedulerMessage)
        : applyPlacement(this.system, this.actors, this.reps, next).then(({ actors, moves }) => ({ actors, moves, replicas: next })));
  }

  /**
   * Carries out the plans that have arrived (the scheduler actor does it, on the expert actors),
   * then shows the routing to the scheduler: summed over a window of passes (`loadWindowMs`), or at
   * once after a switch, whose cost the scheduler waits to hear. The scheduler plans beside the next
   * passes instead of before them (planning is off the critical path, as in FlexMoE's design), so a
   * plan takes effect at a pass boundary after the routing that prompted it.
   */
  private async rebalance(counts: number[][], passMs: number): Promise<void> {
    const generation = this.generation;
    // A pass right after a switch (new replicas' first work) does not tell what the model leaves out.
    const clean = !this.afterSwitch;
    this.afterSwitch = false;
    if (this.arrived.length) {
      const plans = this.arrived.splice(0);
      await this.switchTo(plans, () => this.system.ask<CarriedOut>(this.scheduler!, { type: 'carry-out', count: plans.length } satisfies SchedulerMessage));
    }
    const w = (this.window ??= { counts: counts.map((l) => l.map(() => 0)), ms: 0, clean: true });
    counts.forEach((l, i) => l.forEach((n, e) => (w.counts[i]![e]! += n)));
    w.ms += passMs;
    w.clean &&= clean;
    const switchMs = this.lastSwitchMs;
    if (switchMs === undefined && w.ms < this.opts.loadWindowMs) return;
    this.window = null;
    this.lastSwitchMs = undefined;
    this.system.ask<LayerPlan[]>(this.scheduler!, { type: 'load', step: this.step++, counts: w.counts, switchMs, stepMs: switchMs === undefined && w.clean ? w.ms : undefined } satisfies SchedulerMessage).then(
      (plans) => generation === this.generation && plans.length && this.arrived.push(...plans),
      () => {}, // a crash is reported by the pass that meets it
    );
  }

  /** Carries out a placement change (`carry`: clone / migrate / stop expert actors), then gives every server the new refs; no pass runs meanwhile. */
  private async switchTo(plans: LayerPlan[], carry: () => Promise<{ actors: MoEActors; moves: PlacementMoves[]; replicas: number[][][] }>): Promise<void> {
    const t0 = performance.now();
    let moved = 0, next: number[][][];
    try {
      const done = await carry();
      this.actors = done.actors;
      next = done.replicas;
      moved = done.moves.reduce((n, m) => n + m.cloned + m.migrated, 0);
      await Promise.all(this.servers.map((ref) => this.system.ask(ref, { type: 'attach', replicas: next, actors: done.actors })));
    } catch (e) {
      throw this.crashed(this.crashCause ?? (e as Error));
    }
    const switchMs = performance.now() - t0;
    this.lastSwitchMs = switchMs;
    this.afterSwitch = true;
    this.reps = next;
    const { dModel: d, dFF: f } = this.info;
    const total = moved * (2 * d * f + d + f) * 4; // weights of each expert copied or moved
    for (const p of plans) this.events$.next({ type: 'replan', ...p, switchMs, bytes: total });
  }

  /** A pass failed: report it, rebuild every device in the background, and name the failure. */
  private crashed(e: Error): Error {
    this.events$.next({ type: 'device-crashed', message: e.message });
    this.recovering ??= this.recover().finally(() => (this.recovering = null));
    return errors.servingFailed(e.message);
  }

  private async recover(): Promise<void> {
    const t0 = performance.now();
    for (let attempt = 0; ; attempt++) {
      await this.system.stop();
      if (this.closed) return;
      try {
        await this.boot();
        this.events$.next({ type: 'recovered', ms: performance.now() - t0 });
        return;
      } catch (e) {
        if (attempt + 1 >= this.opts.maxRestarts) {
          this.failed = errors.servingFailed(`devices could not be rebuilt after ${attempt + 1} attempts (${(e as Error).message})`);
          return;
        }
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  /** Fault injection for tests and drills: makes a device fail the way real ones do. */
  crashDevice(device: number, how: 'throw' | 'exit' | 'oom' = 'exit'): void {
    this.system.crashDevice(device, how);
  }

  async close(): Promise<void> {
    if (this.recovering) await this.recovering;
    this.closed = true;
    await this.system.stop();
    this.events$.complete();
  }
}
