import { errors } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';

/** A location-transparent address: plain data, safe to send anywhere. Resolved through the directory. */
export interface ActorRef {
  id: string;
  device: number;
  incarnation: number;
}

/** What an actor can do besides compute: talk to other actors, move tensors, report events. */
export interface ActorContext {
  readonly self: ActorRef;
  readonly device: number;
  readonly devices: number;
  tell(target: ActorRef, message: unknown): void;
  ask<T = unknown>(target: ActorRef, message: unknown, timeoutMs?: number): Promise<T>;
  /** Sends a tensor to a peer device over its SharedArrayBuffer channel. */
  send(peer: number, tag: number, tensor: Tensor): Promise<void>;
  /** Receives the next tensor sent by `peer` with `tag`. */
  recv(peer: number, tag: number): Promise<Tensor>;
  readonly collectives: import('./collectives.js').Collectives;
  /** A telemetry event for `system.events$` (e.g. per-step token counts). */
  emit(data: unknown): void;
  /**
   * The actor `ref` itself when it lives on this device, else undefined: a direct call, no
   * mailbox, no encoding. This is how co-located actors share a hot path (a trainer calling the
   * experts its device hosts); calls made this way bypass the target's mailbox order, so use it
   * for work the caller sequences itself, and messages for everything else.
   */
  local<T extends Actor = Actor>(ref: ActorRef): T | undefined;
  /**
   * The system's placement primitives, for actors that manage others (a scheduler carrying out a
   * plan on expert actors): the same semantics as `ActorSystem.spawn/clone/migrate/stop`. An actor
   * must not migrate or stop itself this way while handling a message.
   */
  /**
   * Keeps `buffer` (and plain-data `meta`) under `key` for this actor beyond its device thread: a
   * SharedArrayBuffer the device wrote, held by reference on the main thread (no byte is copied).
   * An actor rebuilt after its device crashed, or any actor given its id, finds it with `unstash`.
   * Kept until the actor is stopped; a second stash under the same key replaces the first.
   */
  stash(key: string, buffer: SharedArrayBuffer, meta?: unknown): Promise<void>;
  /** What `stash` kept under `key` for actor `actorId` (default: this actor), or undefined. */
  unstash<M = unknown>(key: string, actorId?: string): Promise<{ buffer: SharedArrayBuffer; meta: M } | undefined>;
  spawn(className: string, args: unknown, device: number): Promise<ActorRef>;
  clone(target: ActorRef, device: number): Promise<ActorRef>;
  migrate(target: ActorRef, device: number): Promise<ActorRef>;
  stop(target: ActorRef): Promise<void>;
}

/**
 * Base class of every actor. `receive` handles one message at a time (the mailbox is ordered);
 * what it returns answers an `ask`. `snapshot` and `static restore` are how actors migrate, clone
 * and survive crashes: snapshot → transfer → restore. The defaults copy the actor's own fields,
 * which suits plain-data state; override both for anything else.
 *
 * @example
 * class Counter extends Actor {
 *   static override actorName = 'Counter';
 *   count = 0;
 *   receive(msg: { add: number }) { this.count += msg.add; return this.count; }
 * }
 * registerActor(Counter);
 */
export abstract class Actor {
  static actorName: string;

  abstract receive(message: unknown, context: ActorContext): unknown;

  /** Called once after construction or restore, with the context the actor will live in. */
  started(_context: ActorContext): void | Promise<void> {}

  snapshot(): unknown {
    return { ...this };
  }

  static restore(this: ActorClass, snapshot: unknown): Actor {
    const actor = Object.create(this.prototype) as Actor;
    return Object.assign(actor, snapshot);
  }
}

export interface ActorClass {
  new (args: any): Actor;
  actorName: string;
  restore(snapshot: unknown): Actor;
  prototype: Actor;
}

const registry = new Map<string, ActorClass>();

/** Makes a class constructible by name on every device (call it at module load). */
export function registerActor(cls: ActorClass): void {
  const name = cls.actorName;
  const existing = registry.get(name);
  if (existing && existing !== cls) throw errors.duplicateActorClass(name);
  registry.set(name, cls);
}

export function actorClass(name: string): ActorClass {
  const cls = registry.get(name);
  if (!cls) throw errors.unknownActorClass(name, [...registry.keys()]);
  return cls;
}

export function formatRef(ref: ActorRef, className?: string): string {
  return `${className ?? 'Actor'}#${ref.id}@dev${ref.device}`;
}
