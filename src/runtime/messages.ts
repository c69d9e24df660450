import type { ActorRef } from './actor.js';

/**
 * The one catalog of control-plane messages between the main thread and device threads.
 * A discriminated union, `type` first. Requests carry `req`; the device answers with `reply`.
 */
/** An actor as every device's directory knows it. */
export interface DirectoryRecord {
  ref: ActorRef;
  className: string;
  status: 'active' | 'held' | 'failed';
  failure?: string;
}

/**
 * A change to the devices' directories, published by the main thread to every device (and
 * answered) before the change it describes is visible to anyone.
 * - `active`: the actor is (again) reachable at `ref`; held messages go there.
 * - `hold`: hold messages to it (it is moving, or its device died); with `move`, each device first
 *   writes a mark for that move into its ring to the actor's device.
 * - `down`: `device` died; asks waiting on it fail.
 * - `failed`: it will not come back; `reason` says why.
 * - `removed`: it was stopped.
 * - `load`: the whole directory (a device that has just started).
 */
export type DirectoryOp =
  | { op: 'active'; ref: ActorRef; className: string }
  | { op: 'hold'; id: string; move?: number }
  | { op: 'down'; device: number }
  | { op: 'failed'; id: string; reason: string }
  | { op: 'removed'; id: string }
  | { op: 'load'; records: DirectoryRecord[] };

export type ToDevice =
  /** `devices`: the compute devices (collectives span them); `threads`: all devices, service ones after them (rings connect all). */
  | {
      type: 'init'; device: number; devices: number; threads: number; modules: string[]; incarnation: number;
      /**
       * Hosts (src/hosts): the host of every device. Peers on this device's host get rings (in
       * `shared`, in peer order); the others are reached over NATS links, which `links` says how to
       * open (the credentials are the process's own, never sent by a coordinator).
       */
      hostOf?: number[];
      links?: { url: string; prefix: string; credentials?: { user?: string; password?: string; token?: string } };
      /** Hosts: how many times each device has been rebuilt; a link's subjects carry its two ends' counts, so a rebuilt device never reads its old self's frames. */
      linkEpochs?: number[];
    }
  /** Hosts: `peer` on another host was rebuilt (`epoch` times): open fresh links to it, dropping the old ones. */
  | { type: 'relink'; peer: number; epoch: number }
  /** `version`: the directory's version after these ops (every change bumps it; `load` carries the current one). */
  | { type: 'directory'; req: number; version: number; ops: DirectoryOp[] }
  | { type: 'spawn'; req: number; ref: ActorRef; className: string; args: unknown }
  | { type: 'restore'; req: number; ref: ActorRef; className: string; snapshot: unknown }
  | { type: 'deliver'; ref: ActorRef; payload: unknown; req?: number }
  | { type: 'snapshot'; req: number; id: string }
  | { type: 'stop'; req: number; id: string }
  /**
   * Snapshot actor `id` (after its mailbox drains) and send the state to device `to` over their
   * channel with `tag`; with `leaving` the actor stops taking local calls (it is migrating), and
   * the snapshot waits for the marks of `marks` peers for `move` (what they sent before it is handled first).
   */
  | { type: 'ship'; req: number; id: string; to: number; tag: number; leaving: boolean; move?: number; marks?: number }
  /** Receive a state shipped from device `from` with `tag` and host it as `ref`. */
  | { type: 'adopt'; req: number; ref: ActorRef; className: string; from: number; tag: number }
  /** Bring back an actor whose move failed (undoes `leaving`). */
  | { type: 'stay'; req: number; id: string }
  | { type: 'stats'; req: number }
  /** Start a new epoch of collectives (every device at once, none in flight): Collectives.reset. */
  | { type: 'reset-collectives'; req: number }
  | { type: 'ask-reply'; req: number; ok: boolean; value?: unknown; error?: string }
  | { type: 'crash'; how: 'throw' | 'exit' | 'oom' }
  /** New rings with `peers` (one restarted); like `init`, the SharedArrayBuffers travel beside the message. */
  | { type: 'rings'; peers: number[] };

/** A placement primitive an actor asks the system for (answered with `ask-reply`). */
export type PlaceRequest =
  | { op: 'spawn'; className: string; args: unknown; device: number }
  | { op: 'clone'; target: ActorRef; device: number }
  | { op: 'migrate'; target: ActorRef; device: number }
  | { op: 'stop'; target: ActorRef };

export type FromDevice =
  | { type: 'ready'; device: number }
  /** A module the device had to load failed: the device cannot host its actors. */
  | { type: 'init-failed'; device: number; error: string }
  | { type: 'reply'; req: number; ok: boolean; value?: unknown; error?: string }
  | { type: 'place'; req: number; request: PlaceRequest }
  /**
   * Keep the SharedArrayBuffer beside this message (and `meta`) under (`actor`, `key`) on the main
   * thread: memory a device wrote that outlives the device thread (answered with `ask-reply`).
   */
  | { type: 'stash'; req: number; actor: string; key: string; meta: unknown }
  /** What is kept under (`actor`, `key`): answered with `ask-reply`, the buffer beside it. */
  | { type: 'unstash'; req: number; actor: string; key: string }
  | { type: 'event'; actor: ActorRef; data: unknown }
  /** Events emitted in one synchronous stretch of a device's work, in order: one message to wake the main thread, not one each. */
  | { type: 'events'; events: { actor: ActorRef; data: unknown }[] };

export interface DeviceStats {
  device: number;
  busyMs: number;
  actors: number;
  /** Actor messages this device sent to and received from other devices over the rings. */
  mail: { sent: number; received: number };
  /** The version of the actor directory this device holds. */
  directoryVersion: number;
  channels: { peer: number; sentFrames: number; receivedFrames: number; fullWaits: number; usedBytes: number }[];
  /** This device thread's JavaScript heap in use, and its ArrayBuffers (tensors, pools, kernel memory). */
  heapUsedBytes: number;
  arrayBufferBytes: number;
}
