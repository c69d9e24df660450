import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { Subject, type Observable } from 'rxjs';
import { errors } from '../errors.js';
import { formatRef, type ActorClass, type ActorRef } from './actor.js';
import { Device, type DeviceHandle } from './device.js';
import type { Cluster, HostsOptions } from '../hosts/cluster.js';
import type { RuntimeEvent } from './events.js';
import type { DeviceStats, DirectoryOp, DirectoryRecord, FromDevice, PlaceRequest } from './messages.js';
import { DEVICE_RING_BYTES } from './ring.js';
import { Supervisor, type Entry } from './supervisor.js';
import { makeReduceShared, REDUCE_REGION_BYTES, type ReduceShared } from './shared-reduce.js';
import { moduleUrls } from './thread.js';

export interface SystemOptions {
  /** Number of devices (worker threads); default: the machine's available parallelism. */
  devices?: number;
  /**
   * Service devices (default 0): worker threads numbered after the devices, hosting actors that
   * must not share a compute device's event loop (the scheduler). They message every device over
   * rings like any device, and take no part in collectives (`ctx.devices` counts compute devices).
   */
  serviceDevices?: number;
  /** Modules that register actor classes (paths or file URLs); every device imports them at start. */
  modules?: (string | URL)[];
  /** Bytes per directed ring (default `DEVICE_RING_BYTES`: 4 MiB of frames). */
  ringBytes?: number;
  askTimeoutMs?: number;
  /** Consecutive crashes of one device before it is declared failed (default 3). */
  maxRestarts?: number;
  restartBackoffMs?: number;
  resourceLimits?: ResourceLimits;
  /** Bytes of each device's region for all-reduces over shared memory (default 8 MiB; larger vectors go in chunks). */
  reduceBytes?: number;
  /**
   * Devices on other machines (src/hosts): claim this many hosts on a NATS server, each offering
   * the device threads it was started with (`flexmoe host --nats URL --devices N`). Their devices
   * are numbered after this process's own (`devices`, default 0 with hosts) and work like them;
   * between hosts, frames go over NATS.
   */
  hosts?: HostsOptions;
}

/**
 * The actor system: devices (worker threads), a directory of actors, and the placement primitives
 * spawn / clone / migrate / stop. Tensors move device to device over SharedArrayBuffer rings; this
 * thread only routes small control messages.
 *
 * @example
 * const system = await ActorSystem.start({ devices: 2, modules: [new URL('./counter.ts', import.meta.url)] });
 * const c = await system.spawn(Counter, { start: 1 }, { device: 0 });
 * await system.ask(c, { add: 2 }); // 3
 * await system.stop();
 */
export class ActorSystem {
  readonly devices: DeviceHandle[] = [];
  /** The hosts this system claimed (null: every device is a thread of this process). */
  cluster: Cluster | null = null;
  /** Hosts: how many times each device has been rebuilt (links between hosts are named by both ends' counts). */
  readonly linkEpochs: number[] = [];
  readonly options: Required<Omit<SystemOptions, 'resourceLimits' | 'modules' | 'hosts'>> & { modules: string[]; resourceLimits?: ResourceLimits };
  /** @internal what every device shares for all-reduces over shared memory */
  readonly reduce: ReduceShared;
  private readonly events = new Subject<RuntimeEvent>();
  readonly events$: Observable<RuntimeEvent> = this.events.asObservable();
  private readonly directory = new Map<string, Entry>();
  private readonly supervisor: Supervisor;
  private nextId = 1;
  private nextShip = 1;
  private stopped = false;

  private constructor(opts: SystemOptions) {
    this.options = {
      devices: opts.devices ?? availableParallelism(),
      serviceDevices: opts.serviceDevices ?? 0,
      modules: moduleUrls(opts.modules ?? []),
      ringBytes: opts.ringBytes ?? DEVICE_RING_BYTES,
      askTimeoutMs: opts.askTimeoutMs ?? 10_000,
      maxRestarts: opts.maxRestarts ?? 3,
      restartBackoffMs: opts.restartBackoffMs ?? 50,
      resourceLimits: opts.resourceLimits,
      reduceBytes: opts.reduceBytes ?? REDUCE_REGION_BYTES,
    };
    this.reduce = makeReduceShared(this.options.devices, this.options.reduceBytes);
    this.supervisor = new Supervisor(this, this.directory, (e) => this.events.next(e));
  }

  static async start(opts: SystemOptions = {}): Promise<ActorSystem> {
    const cluster = opts.hosts ? await ActorSystem.claimHosts(opts) : null;
    const system = new ActorSystem(cluster ? { ...opts, devices: cluster.computeDevices } : opts);
    system.cluster = cluster;
    const n = system.options.devices, threads = n + system.options.serviceDevices;
    for (let i = 0; i < threads; i++) {
      const onMessage = (m: FromDevice, shared?: SharedArrayBuffer[]) => system.onDeviceMessage(i, m, shared);
      const onExit = (reason: string) => void system.supervisor.deviceExited(i, reason);
      const host = cluster?.hostFor(i);
      if (cluster && host) {
        const { RemoteDevice } = await import('../hosts/remote-device.js');
        system.devices.push(new RemoteDevice(cluster.nc, { index: i, host, prefix: cluster.prefix, onMessage, onExit, linkEpochs: () => system.linkEpochs }));
        continue;
      }
      const init = cluster ? { hostOf: cluster.hostOf, links: { url: opts.hosts!.nats, prefix: cluster.prefix, credentials: opts.hosts!.credentials } } : undefined;
      system.devices.push(new Device({ index: i, devices: n, threads, modules: system.options.modules, resourceLimits: system.options.resourceLimits, onMessage, onExit, init, linkEpochs: cluster ? () => system.linkEpochs : undefined }));
    }
    if (cluster) {
      system.linkEpochs.push(...new Array<number>(threads).fill(0));
      cluster.onHostLost = (_id, devices, reason) => {
        for (const d of devices) (system.devices[d] as { hostLost?: (r: string) => void }).hostLost?.(reason);
      };
    }
    try {
      await Promise.all(system.devices.map((d) => (d.state === 'up' ? undefined : d.start(system.supervisor.ringsFor(d.index), system.reduce))));
    } catch (e) {
      await system.stop();
      throw e;
    }
    for (const d of system.devices) system.events.next({ type: 'device-up', device: d.index, incarnation: d.incarnation });
    return system;
  }

  /** Claims the hosts `opts.hosts` names; this process's own compute devices are numbered first. */
  private static async claimHosts(opts: SystemOptions): Promise<Cluster> {
    const { Cluster } = await import('../hosts/cluster.js');
    return Cluster.claim(opts.hosts!, {
      localCompute: opts.devices ?? 0,
      serviceDevices: opts.serviceDevices ?? 0,
      modules: moduleUrls(opts.modules ?? []),
      ringBytes: opts.ringBytes ?? DEVICE_RING_BYTES,
      reduceBytes: opts.reduceBytes ?? REDUCE_REGION_BYTES,
    });
  }

  /** Whether device `d` is a thread of this process (not one a host runs). */
  isLocal(d: number): boolean {
    return !this.cluster || this.cluster.hostOf[d] === 0;
  }

  /** Whether devices `a` and `b` run in one process (they share rings and memory). */
  sameHost(a: number, b: number): boolean {
    const h = this.cluster?.hostOf;
    return !h || h[a] === h[b];
  }

  device(index: number): DeviceHandle {
    const d = this.devices[index];
    if (!d) throw errors.badDevice(index, this.devices.length);
    return d;
  }

  private entry(ref: ActorRef | string): Entry {
    const e = this.directory.get(typeof ref === 'string' ? ref : ref.id);
    if (!e) throw errors.unknownActor(typeof ref === 'string' ? ref : formatRef(ref));
    return e;
  }

  /** The current address of an actor (its device changes when it migrates or is restored). */
  resolve(ref: ActorRef | string): ActorRef {
    return { ...this.entry(ref).ref };
  }

  /** The actors whose home is `device` now (lost ones included, until they are restored), and their status. */
  actorsOn(device: number): { ref: ActorRef; className: string; status: Entry['status'] }[] {
    return [...this.directory.values()].filter((e) => e.ref.device === device).map((e) => ({ ref: { ...e.ref }, className: e.className, status: e.status }));
  }

  /** Refs of every live actor in `ref`'s replica group (itself and its clones). */
  replicasOf(ref: ActorRef): ActorRef[] {
    const group = this.entry(ref).group;
    return [...this.directory.values()].filter((e) => e.group === group).map((e) => ({ ...e.ref }));
  }

  async spawn(cls: ActorClass | string, args: unknown, { device = 0 }: { device?: number } = {}): Promise<ActorRef> {
    this.live('spawn');
    const className = typeof cls === 'string' ? cls : cls.actorName;
    const id = `a${this.nextId++}`;
    const ref: ActorRef = { id, device: this.device(device).index, incarnation: 1 };
    const entry: Entry = { ref, className, args, group: id, status: 'moving', stash: [] };
    this.directory.set(id, entry);
    try {
      await this.device(device).request({ type: 'spawn', ref, className, args }, this.options.askTimeoutMs, `spawn ${className}`);
    } catch (e) {
      this.directory.delete(id);
      throw e;
    }
    await this.publish([{ op: 'active', ref, className }]);
    this.supervisor.activate(entry);
    this.events.next({ type: 'actor-spawned', ref: { ...ref }, className });
    return { ...ref };
  }

  /** Fire-and-forget message; delivered in order per sender, exactly once, even across a migration. */
  tell(ref: ActorRef | string, message: unknown): void {
    this.live('tell');
    this.supervisor.deliver(this.entry(ref), message);
  }

  /** A message whose handler's return value comes back; rejects with a named error on timeout or failure. */
  ask<T = unknown>(ref: ActorRef | string, message: unknown, { timeoutMs = this.options.askTimeoutMs } = {}): Promise<T> {
    this.live('ask');
    return new Promise<T>((resolve, reject) => this.supervisor.deliver(this.entry(ref), message, { resolve: resolve as (v: unknown) => void, reject, timeoutMs }));
  }

  /** The actor's current state (also kept as its last snapshot, for crash recovery). */
  async snapshot(ref: ActorRef | string): Promise<unknown> {
    const e = this.entry(ref);
    const s = await this.device(e.ref.device).request({ type: 'snapshot', id: e.ref.id }, this.options.askTimeoutMs, `snapshot ${formatRef(e.ref, e.className)}`);
    e.lastSnapshot = s;
    return s;
  }

  /**
   * A new replica with identical state on `device` (same replica group). The state goes from the
   * source device to the new one over their channel (snapshot → ring → restore); this thread only
   * sends the two control messages. Cloning onto the source's own device copies in place.
   */
  async clone(ref: ActorRef | string, device: number): Promise<ActorRef> {
    this.live('clone');
    const src = this.entry(ref);
    const id = `a${this.nextId++}`;
    const newRef: ActorRef = { id, device: this.device(device).index, incarnation: 1 };
    const entry: Entry = { ref: newRef, className: src.className, args: src.args, group: src.group, status: 'moving', stash: [] };
    this.directory.set(id, entry);
    try {
      await this.ship(src, newRef, false);
    } catch (e) {
      this.directory.delete(id);
      throw e;
    }
    await this.publish([{ op: 'active', ref: newRef, className: src.className }]);
    this.supervisor.activate(entry);
    this.events.next({ type: 'actor-cloned', ref: { ...newRef }, from: { ...src.ref } });
    return { ...newRef };
  }

  /**
   * Sends `src`'s state to `to.device` and hosts it there as `to`: device to device when they differ.
   * @internal the supervisor's and the placement primitives' transport
   */
  async ship(src: Entry, to: ActorRef, leaving: boolean, marks?: { move: number; count: number }): Promise<void> {
    const timeout = this.options.askTimeoutMs, what = `${leaving ? 'migrate' : 'clone'} ${formatRef(src.ref, src.className)} to device ${to.device}`;
    const from = this.device(src.ref.device);
    if (from.index === to.device) {
      const snapshot = await from.request({ type: 'snapshot', id: src.ref.id }, timeout, what);
      await from.request({ type: 'restore', ref: to, className: src.className, snapshot }, timeout, what);
      return;
    }
    const tag = (1 << 23) + (this.nextShip++ & 0x7fffff);
    await Promise.all([
      from.request({ type: 'ship', id: src.ref.id, to: to.device, tag, leaving, move: marks?.move, marks: marks?.count }, timeout, what),
      this.device(to.device).request({ type: 'adopt', ref: to, className: src.className, from: from.index, tag }, timeout, what),
    ]);
  }

  /**
   * Moves an actor to `device`: snapshot (after its mailbox drains) → transfer → restore. Messages
   * sent meanwhile are stashed and delivered afterwards, in order.
   */
  async migrate(ref: ActorRef | string, device: number): Promise<ActorRef> {
    this.live('migrate');
    const e = this.entry(ref);
    const target = this.device(device).index;
    if (e.ref.device === target) return { ...e.ref };
    return this.supervisor.move(e, target);
  }

  /** Stops one actor, or (no argument) the whole system: every device thread is terminated. */
  async stop(ref?: ActorRef | string): Promise<void> {
    if (ref === undefined) return this.shutdown();
    const e = this.entry(ref);
    await this.device(e.ref.device).request({ type: 'stop', id: e.ref.id }, this.options.askTimeoutMs, `stop ${formatRef(e.ref, e.className)}`);
    this.directory.delete(e.ref.id);
    for (const key of [...this.stashes.keys()]) if (key.startsWith(`${e.ref.id}\u0000`)) this.stashes.delete(key);
    await this.publish([{ op: 'removed', id: e.ref.id }]);
    for (const s of e.stash) s.ask?.reject(errors.unknownActor(formatRef(e.ref, e.className)));
    this.events.next({ type: 'actor-stopped', ref: { ...e.ref } });
  }

  async stats(): Promise<DeviceStats[]> {
    const up = this.devices.filter((d) => d.state === 'up');
    const stats = await Promise.all(up.map((d) => d.request<DeviceStats>({ type: 'stats' }, this.options.askTimeoutMs, 'stats')));
    this.events.next({ type: 'channel-stats', stats });
    return stats;
  }

  private readonly busyAtLastStep = new Map<number, number>();

  /** Marks a step boundary: emits each device's busy time since the previous mark. */
  async markStep(step: number): Promise<void> {
    for (const s of await this.stats()) {
      const prev = this.busyAtLastStep.get(s.device) ?? 0;
      this.busyAtLastStep.set(s.device, s.busyMs);
      this.events.next({ type: 'device-busy', step, device: s.device, busyMs: s.busyMs - prev });
    }
  }

  /**
   * Starts a new epoch of collectives on every compute device (Collectives.reset). Call it when no
   * collective is in flight anywhere: after a crash cut some short, before the survivors meet again.
   */
  async resetCollectives(): Promise<void> {
    const up = this.devices.filter((d) => d.state === 'up' && d.index < this.options.devices);
    await Promise.all(up.map((d) => d.request({ type: 'reset-collectives' }, this.options.askTimeoutMs, 'reset the collectives')));
  }

  /** Fault injection for tests and drills: makes a device fail the way real ones do. */
  crashDevice(device: number, how: 'throw' | 'exit' | 'oom' = 'exit'): void {
    this.device(device).post({ type: 'crash', how });
  }

  /**
   * Control messages received from devices (placement requests, telemetry events). Actor messages
   * between devices never come here: they go over the rings (mail.ts).
   */
  controlReceived = 0;

  private onDeviceMessage(device: number, m: FromDevice, shared?: SharedArrayBuffer[]): void {
    if (this.stopped) return;
    this.controlReceived++;
    if (m.type === 'place') {
      const answer = (ok: boolean, value?: unknown, error?: string) => {
        if (this.devices[device]?.state === 'up') this.devices[device]!.post({ type: 'ask-reply', req: m.req, ok, value, error });
      };
      this.place(m.request).then((v) => answer(true, v), (e: Error) => answer(false, undefined, e.message));
    } else if (m.type === 'stash') {
      const buffer = shared?.[0];
      if (buffer) this.stashes.set(`${m.actor}\u0000${m.key}`, { buffer, meta: m.meta });
      this.reply(device, m.req, buffer !== undefined, undefined, buffer ? undefined : 'stash: no buffer came with it');
    } else if (m.type === 'unstash') {
      const s = this.stashes.get(`${m.actor}\u0000${m.key}`);
      this.reply(device, m.req, true, { found: s !== undefined, meta: s?.meta }, undefined, s ? [s.buffer] : undefined);
    } else if (m.type === 'event') this.events.next({ type: 'actor-event', ref: m.actor, data: m.data });
    else if (m.type === 'events') for (const e of m.events) this.events.next({ type: 'actor-event', ref: e.actor, data: e.data });
  }

  /** Buffers actors stashed (ActorContext.stash), by actor id and key: held here, so they outlive device threads. */
  private readonly stashes = new Map<string, { buffer: SharedArrayBuffer; meta: unknown }>();

  /** What actor `id` stashed under `key` (read here only when a run must save what its devices kept). */
  stashed<M = unknown>(id: string, key: string): { buffer: SharedArrayBuffer; meta: M } | undefined {
    return this.stashes.get(`${id}\u0000${key}`) as { buffer: SharedArrayBuffer; meta: M } | undefined;
  }

  private reply(device: number, req: number, ok: boolean, value?: unknown, error?: string, shared?: SharedArrayBuffer[]): void {
    if (this.devices[device]?.state === 'up') this.devices[device]!.post({ type: 'ask-reply', req, ok, value, error }, shared);
  }

  /** A placement primitive asked for by an actor (ActorContext.spawn / clone / migrate / stop). */
  private async place(r: PlaceRequest): Promise<ActorRef | void> {
    if (r.op === 'spawn') return this.spawn(r.className, r.args, { device: r.device });
    if (r.op === 'clone') return this.clone(r.target.id, r.device);
    if (r.op === 'migrate') return this.migrate(r.target.id, r.device);
    return this.stop(r.target.id);
  }

  /**
   * Publishes a directory change to every running device and waits until each has applied it, so
   * the change is everywhere before anyone learns of it. A device that dies meanwhile is skipped:
   * it loads the whole directory when it is rebuilt.
   * @internal
   */
  async publish(ops: DirectoryOp[], devices: DeviceHandle[] = this.devices): Promise<void> {
    // A whole directory (`load`) carries the version it is; a change makes a new one.
    const version = ops.some((o) => o.op === 'load') ? this.directoryVersion : ++this.directoryVersion;
    const up = devices.filter((d) => d.state === 'up');
    await Promise.all(up.map((d) => d.request({ type: 'directory', version, ops }, this.options.askTimeoutMs, 'update the actor directory').catch(() => undefined)));
  }

  /** Bumped by every change published to the devices' directories (spawn, clone, migrate, stop, restore, device down). */
  directoryVersion = 0;

  /** @internal the whole directory, as a device that has just started loads it */
  directoryRecords(): DirectoryRecord[] {
    return [...this.directory.values()].map((e) => ({ ref: { ...e.ref }, className: e.className, status: e.status === 'active' ? 'active' : e.status === 'failed' ? 'failed' : 'held' }));
  }

  private live(what: string): void {
    if (this.stopped) throw errors.stopped(what);
  }

  private async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.supervisor.close();
    await Promise.all(this.devices.map((d) => d.terminate()));
    await this.cluster?.close();
    for (const e of this.directory.values()) for (const s of e.stash) s.ask?.reject(errors.stopped('ask'));
    this.directory.clear();
    this.stashes.clear();
    this.events.complete();
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}
