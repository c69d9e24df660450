import { errors } from '../errors.js';
import { formatRef, type ActorRef } from './actor.js';
import type { RuntimeEvent } from './events.js';
import type { ActorSystem } from './system.js';
import { resetReduceSignals } from './shared-reduce.js';

export interface PendingAsk {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timeoutMs: number;
}

/** A directory entry: where an actor lives now, and what to do with messages while it cannot receive. */
export interface Entry {
  ref: ActorRef;
  className: string;
  args: unknown;
  /** Replica group: an actor and its clones. */
  group: string;
  /** active: deliver · moving/lost: stash · failed: its device is gone for good. */
  status: 'active' | 'moving' | 'lost' | 'failed';
  stash: { payload: unknown; ask?: PendingAsk }[];
  lastSnapshot?: unknown;
}

/**
 * Delivery, migration and crash recovery. A device that dies has its in-flight requests failed with
 * an error naming it, is rebuilt with fresh channels, and gets its actors back from a live replica,
 * else their last snapshot, else their spawn arguments. A device that keeps dying right after each
 * restart backs off exponentially and is declared failed after `maxRestarts` (never a hang).
 */
export class Supervisor {
  private readonly rings = new Map<string, SharedArrayBuffer>();
  private readonly crashes = new Map<number, { count: number; restartedAt: number }>();
  private closed = false;
  private nextMove = 1;
  stableMs = 2_000;

  constructor(
    private readonly system: ActorSystem,
    private readonly directory: Map<string, Entry>,
    private readonly emit: (e: RuntimeEvent) => void,
  ) {}

  private ring(from: number, to: number, fresh = false): SharedArrayBuffer {
    const key = `${from}->${to}`;
    let r = this.rings.get(key);
    if (!r || fresh) this.rings.set(key, (r = new SharedArrayBuffer(this.system.options.ringBytes)));
    return r;
  }

  /** The devices `device` shares rings with: all others in one process; with hosts, those on its own host. */
  private peersOf(device: number): number[] {
    return [...Array(this.system.devices.length).keys()].filter((d) => d !== device && this.system.sameHost(d, device));
  }

  /** [out to each peer..., in from each peer...] for `device`, in ascending peer order. */
  ringsFor(device: number, fresh = false): SharedArrayBuffer[] {
    const peers = this.peersOf(device);
    return [...peers.map((p) => this.ring(device, p, fresh)), ...peers.map((p) => this.ring(p, device, fresh))];
  }

  deliver(e: Entry, payload: unknown, ask?: PendingAsk): void {
    if (e.status === 'failed') {
      ask?.reject(errors.deviceFailed(e.ref.device, this.system.options.maxRestarts, `${formatRef(e.ref, e.className)} is unreachable`));
      return;
    }
    if (e.status !== 'active') {
      e.stash.push({ payload, ask });
      return;
    }
    const device = this.system.device(e.ref.device);
    if (!ask) return device.post({ type: 'deliver', ref: e.ref, payload });
    device.request({ type: 'deliver', ref: e.ref, payload }, ask.timeoutMs, formatRef(e.ref, e.className)).then(ask.resolve, ask.reject);
  }

  /** Marks an entry active and delivers what was stashed, in arrival order. */
  activate(e: Entry): void {
    e.status = 'active';
    const stash = e.stash;
    e.stash = [];
    for (const s of stash) this.deliver(e, s.payload, s.ask);
  }

  /**
   * Migration: the actor's state goes from its device to `target` over their channel, while
   * messages sent to it are stashed here; once it is hosted there the old copy is stopped and the
   * stash delivered in order. If the new copy cannot be made, the old one stays and takes the stash.
   */
  async move(e: Entry, target: number): Promise<ActorRef> {
    const from = { ...e.ref };
    const timeout = this.system.options.askTimeoutMs;
    const source = this.system.device(from.device);
    e.status = 'moving';
    const to: ActorRef = { id: e.ref.id, device: target, incarnation: from.incarnation + 1 };
    // Devices hold their messages to it from here on, and each marks its ring to the source; the
    // ship request waits for the marks and queues behind the actor's mailbox, so everything sent
    // before the move is handled first.
    const move = this.nextMove++;
    const marks = this.system.devices.filter((d) => d.state === 'up' && d.index !== from.device).length;
    await this.system.publish([{ op: 'hold', id: from.id, move }]);
    try {
      await this.system.ship(e, to, true, { move, count: marks });
    } catch (err) {
      if (source.state === 'up') await source.request({ type: 'stay', id: from.id }, timeout, `migrate ${formatRef(from, e.className)}`).catch(() => undefined);
      await this.system.publish([{ op: 'active', ref: from, className: e.className }]);
      this.activate(e);
      throw err;
    }
    e.ref = to;
    await source.request({ type: 'stop', id: from.id }, timeout, `migrate ${formatRef(from, e.className)}`).catch(() => undefined);
    await this.system.publish([{ op: 'active', ref: to, className: e.className }]);
    const stashed = e.stash.length;
    this.activate(e);
    this.emit({ type: 'actor-migrated', ref: { ...to }, from, stashed });
    return { ...to };
  }

  async deviceExited(index: number, reason: string): Promise<void> {
    if (this.closed) return;
    const device = this.system.device(index);
    device.state = 'down';
    this.emit({ type: 'device-down', device: index, reason });
    device.failPending(errors.deviceCrashed(index, reason));
    const lost = [...this.directory.values()].filter((e) => e.ref.device === index);
    for (const e of lost) e.status = 'lost';
    await this.system.publish([{ op: 'down', device: index }, ...lost.map((e) => ({ op: 'hold' as const, id: e.ref.id }))]);

    const now = Date.now();
    const c = this.crashes.get(index) ?? { count: 0, restartedAt: 0 };
    c.count = now - c.restartedAt < this.stableMs ? c.count + 1 : 1;
    this.crashes.set(index, c);
    // A device whose host is lost can be started by nobody: it has failed at once.
    if (c.count > this.system.options.maxRestarts || device.rebuildable === false) {
      device.state = 'failed';
      this.emit({ type: 'device-failed', device: index, reason });
      for (const e of lost) {
        e.status = 'failed';
        for (const s of e.stash.splice(0)) s.ask?.reject(errors.deviceFailed(index, device.rebuildable === false ? null : c.count - 1, reason));
      }
      await this.system.publish(lost.map((e) => ({ op: 'failed' as const, id: e.ref.id, reason: errors.deviceFailed(index, device.rebuildable === false ? null : c.count - 1, `${formatRef(e.ref, e.className)} is unreachable`).message })));
      return;
    }
    await new Promise((r) => setTimeout(r, this.system.options.restartBackoffMs * 2 ** (c.count - 1)));
    if (this.closed) return;

    // Fresh rings for every edge of the rebuilt device; peers swap theirs before it starts writing.
    // A device a host runs gets them from its host, which rebuilds it.
    const local = this.system.isLocal(index);
    const rings = local ? this.ringsFor(index, true) : [];
    if (local) {
      for (const p of this.peersOf(index)) {
        const peer = this.system.devices[p]!;
        if (peer.state === 'up') peer.post({ type: 'rings', peers: [index] }, [this.ring(p, index), this.ring(index, p)]);
      }
      if (index < this.system.options.devices) resetReduceSignals(this.system.reduce, this.system.options.devices, index);
    }
    if (this.system.cluster) {
      // Devices on other hosts open fresh links to it, named by its new rebuild count, before it starts.
      const epoch = ++this.system.linkEpochs[index]!;
      for (const peer of this.system.devices) {
        if (peer.index !== index && peer.state === 'up' && !this.system.sameHost(peer.index, index)) peer.post({ type: 'relink', peer: index, epoch });
      }
    }
    c.restartedAt = Date.now();
    try {
      await device.start(rings, this.system.reduce);
      await this.system.publish([{ op: 'load', records: this.system.directoryRecords() }], [device]);
    } catch {
      return; // its exit was reported again and handled by another pass of this method
    }
    this.emit({ type: 'device-up', device: index, incarnation: device.incarnation });
    for (const e of lost) await this.restore(e, index);
  }

  /**
   * Brings a lost actor back on its rebuilt device: from a live replica (its state shipped device to
   * device over the channels), else its last snapshot, else its spawn arguments.
   */
  private async restore(e: Entry, index: number): Promise<void> {
    const timeout = this.system.options.askTimeoutMs;
    const ref: ActorRef = { id: e.ref.id, device: index, incarnation: e.ref.incarnation + 1 };
    const device = this.system.device(index);
    const replica = [...this.directory.values()].find((r) => r.group === e.group && r !== e && r.status === 'active');
    let source: 'replica' | 'snapshot' | 'initial' | null = null;
    if (replica) {
      try {
        await this.system.ship(replica, ref, false);
        source = 'replica';
      } catch {
        if (device.state !== 'up') return; // the device died again; the next restart pass restores it
      }
    }
    if (!source) {
      source = e.lastSnapshot !== undefined ? 'snapshot' : 'initial';
      try {
        if (source === 'initial') await device.request({ type: 'spawn', ref, className: e.className, args: e.args }, timeout, `respawn ${formatRef(ref, e.className)}`);
        else await device.request({ type: 'restore', ref, className: e.className, snapshot: e.lastSnapshot }, timeout, `restore ${formatRef(ref, e.className)}`);
      } catch {
        return; // the device died again; the next restart pass restores it
      }
    }
    e.ref = ref;
    await this.system.publish([{ op: 'active', ref, className: e.className }]);
    this.activate(e);
    this.emit({ type: 'actor-restored', ref: { ...ref }, source });
  }

  close(): void {
    this.closed = true;
  }
}
