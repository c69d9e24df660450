import { errors } from '../errors.js';
import { formatRef, type ActorRef } from './actor.js';
import { packState, unpackState } from './codec.js';
import { MAIL_TAG, type DeviceChannels } from './channels.js';
import type { DirectoryOp } from './messages.js';

/** What travels under MAIL_TAG, one encoded record per frame. */
type Mail =
  | { k: 'tell'; id: string; payload: unknown }
  | { k: 'ask'; id: string; req: number; payload: unknown }
  | { k: 'reply'; req: number; ok: boolean; value?: unknown; error?: string }
  /** Everything this device sent to the actor before it was held is ahead of this in the ring. */
  | { k: 'mark'; move: number };

interface Known {
  ref: ActorRef;
  className: string;
  status: 'active' | 'held' | 'failed';
  /** Messages sent while held, in order; flushed when the actor is active again. */
  held: { payload: unknown; ask?: PendingAsk }[];
  failure?: string;
}

interface PendingAsk {
  req: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  target: string;
  device: number;
}

/** How a device hands a message to one of its own actors (its mailbox), answering through `reply` for an ask. */
export type LocalDelivery = (id: string, payload: unknown, reply?: (ok: boolean, value?: unknown, error?: string) => void) => void;

/**
 * A device's post office: its copy of the actor directory, and `tell` / `ask` from its actors to
 * any actor, straight over the rings (same device: a direct hand-over, no copy). The main thread
 * keeps the directory and publishes every change to every device before the change is visible
 * to anyone (spawn, clone, migrate, stop, restore), so any ref an actor can hold is already here.
 *
 * Ordering (per sender, per target): rings are FIFO per device pair. While an actor moves, senders
 * hold its messages here; on being told to hold, each writes a `mark` into its ring to the
 * actor's device, and that device ships the actor only after every peer's mark has arrived, so
 * whatever was sent before the hold is in the mailbox ahead of the snapshot. When the actor is
 * active again the held messages go to its new place, in order.
 */
export class Mailroom {
  private readonly directory = new Map<string, Known>();
  private readonly removed = new Set<string>();
  private readonly pending = new Map<number, PendingAsk>();
  private nextReq = 1;
  private readonly marks = new Map<number, { count: number; wake?: () => void }>();
  /** Messages received from other devices over the rings, and sent to them (observability). */
  received = 0;
  sent = 0;

  constructor(
    private readonly device: number,
    private readonly channels: DeviceChannels,
    private readonly deliverLocal: LocalDelivery,
  ) {
    channels.onMail = (peer, t) => {
      const mail = unpackState<Mail>(t, `actor message from device ${peer}`);
      channels.recycle(t);
      this.received++;
      this.receive(peer, mail);
    };
  }

  /** The version of the directory held here (the main thread's after the last change applied). */
  version = 0;

  /** Applies a published change (making the directory `version`); `hold` writes this device's mark to the actor's device first. */
  apply(ops: DirectoryOp[], version: number): void {
    this.version = version;
    for (const op of ops) {
      if (op.op === 'load') {
        // A device that has just started: nothing is held here yet.
        for (const r of op.records) this.directory.set(r.ref.id, { ref: r.ref, className: r.className, status: r.status, held: [], failure: r.failure });
      } else if (op.op === 'active') {
        const k = this.directory.get(op.ref.id);
        this.removed.delete(op.ref.id);
        if (!k) {
          this.directory.set(op.ref.id, { ref: op.ref, className: op.className, status: 'active', held: [] });
          continue;
        }
        k.ref = op.ref;
        k.status = 'active';
        for (const h of k.held.splice(0)) this.route(k, h.payload, h.ask);
      } else if (op.op === 'hold') {
        const k = this.directory.get(op.id);
        if (!k) continue;
        k.status = 'held';
        if (op.move !== undefined && k.ref.device !== this.device) void this.post(k.ref.device, { k: 'mark', move: op.move }).catch(() => undefined);
      } else if (op.op === 'down') {
        // Asks waiting on a device that died will never be answered.
        for (const p of [...this.pending.values()]) if (p.device === op.device) this.settle(p.req, false, undefined, errors.deviceCrashed(op.device, `an ask to ${p.target} was in flight`));
      } else if (op.op === 'failed') {
        const k = this.directory.get(op.id);
        if (!k) continue;
        k.status = 'failed';
        k.failure = op.reason;
        for (const h of k.held.splice(0)) h.ask && this.settle(h.ask.req, false, undefined, new Error(op.reason));
      } else {
        const k = this.directory.get(op.id);
        this.directory.delete(op.id);
        this.removed.add(op.id);
        for (const h of k?.held.splice(0) ?? []) h.ask && this.settle(h.ask.req, false, undefined, errors.unknownActor(formatRef(k!.ref, k!.className)));
      }
    }
  }

  /** Resolves once `peers` have each written their mark for `move` (see the class comment). */
  async marksFrom(move: number, peers: number): Promise<void> {
    let m = this.marks.get(move);
    if (!m) this.marks.set(move, (m = { count: 0 }));
    while (m.count < peers) await new Promise<void>((r) => (m!.wake = r));
    this.marks.delete(move);
  }

  tell(target: ActorRef, payload: unknown): void {
    this.route(this.known(target), payload);
  }

  ask<T>(target: ActorRef, payload: unknown, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const k = this.known(target);
      const req = this.nextReq++;
      const p: PendingAsk = { req, resolve: resolve as (v: unknown) => void, reject, target: formatRef(k.ref, k.className), device: k.ref.device };
      p.timer = setTimeout(() => {
        this.pending.delete(req);
        reject(errors.askTimeout(formatRef(k.ref, k.className), p.device, timeoutMs, 'no reply'));
      }, timeoutMs);
      this.pending.set(req, p);
      this.route(k, payload, p);
    });
  }

  private known(target: ActorRef): Known {
    const k = this.directory.get(target.id);
    if (!k) throw errors.unknownActor(formatRef(target));
    return k;
  }

  private route(k: Known, payload: unknown, ask?: PendingAsk): void {
    if (k.status === 'failed') {
      if (ask) this.settle(ask.req, false, undefined, new Error(k.failure ?? `${formatRef(k.ref, k.className)} is unreachable`));
      return;
    }
    if (k.status === 'held') {
      k.held.push({ payload, ask });
      return;
    }
    const to = k.ref.device;
    if (ask) [ask.device, ask.target] = [to, formatRef(k.ref, k.className)];
    if (to === this.device) {
      // Same device: the message object itself goes into the mailbox, no encoding, no copy.
      this.deliverLocal(k.ref.id, payload, ask ? (ok, value, error) => this.settle(ask.req, ok, value, error) : undefined);
      return;
    }
    const mail: Mail = ask ? { k: 'ask', id: k.ref.id, req: ask.req, payload } : { k: 'tell', id: k.ref.id, payload };
    this.post(to, mail).catch((e: Error) => ask && this.settle(ask.req, false, undefined, e));
  }

  private post(peer: number, mail: Mail): Promise<void> {
    this.sent++;
    return this.channels.send(peer, MAIL_TAG, packState(mail));
  }

  private receive(peer: number, mail: Mail): void {
    if (mail.k === 'tell') this.deliverLocal(mail.id, mail.payload);
    else if (mail.k === 'ask') {
      this.deliverLocal(mail.id, mail.payload, (ok, value, error) => void this.post(peer, { k: 'reply', req: mail.req, ok, value, error }).catch(() => undefined));
    } else if (mail.k === 'reply') this.settle(mail.req, mail.ok, mail.value, mail.error);
    else {
      let m = this.marks.get(mail.move);
      if (!m) this.marks.set(mail.move, (m = { count: 0 }));
      m.count++;
      m.wake?.();
    }
  }

  /** A string error is what the target's handler threw (named after the actor); an Error is the runtime's own. */
  private settle(req: number, ok: boolean, value?: unknown, error?: string | Error): void {
    const p = this.pending.get(req);
    if (!p) return;
    this.pending.delete(req);
    clearTimeout(p.timer);
    if (ok) p.resolve(value);
    else p.reject(error instanceof Error ? error : errors.actorFailed(p.target, p.device, error ?? 'unknown error'));
  }
}
