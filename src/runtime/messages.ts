import type { ActorRef } from './actor.js';

/**
 * The one catalog of control-plane messages between the main thread and device threads.
 * A discriminated union, `type` first. Requests carry `req`; the device answers with `reply`.
 */
export type ToDevice =
  | { type: 'init'; device: number; devices: number; modules: string[]; incarnation: number }
  | { type: 'spawn'; req: number; ref: ActorRef; className: string; args: unknown }
  | { type: 'restore'; req: number; ref: ActorRef; className: string; snapshot: unknown }
  | { type: 'deliver'; ref: ActorRef; payload: unknown; req?: number }
  | { type: 'snapshot'; req: number; id: string }
  | { type: 'stop'; req: number; id: string }
  /**
   * Snapshot actor `id` (after its mailbox drains) and send the state to device `to` over their
   * channel with `tag`; with `leaving` the actor stops taking local calls (it is migrating).
   */
  | { type: 'ship'; req: number; id: string; to: number; tag: number; leaving: boolean }
  /** Receive a state shipped from device `from` with `tag` and host it as `ref`. */
  | { type: 'adopt'; req: number; ref: ActorRef; className: string; from: number; tag: number }
  /** Bring back an actor whose move failed (undoes `leaving`). */
  | { type: 'stay'; req: number; id: string }
  | { type: 'stats'; req: number }
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
  | { type: 'tell'; target: ActorRef; payload: unknown }
  | { type: 'ask'; req: number; target: ActorRef; payload: unknown; timeoutMs: number }
  | { type: 'place'; req: number; request: PlaceRequest }
  | { type: 'event'; actor: ActorRef; data: unknown };

export interface DeviceStats {
  device: number;
  busyMs: number;
  actors: number;
  channels: { peer: number; sentFrames: number; receivedFrames: number; fullWaits: number; usedBytes: number }[];
  /** This device thread's JavaScript heap in use, and its ArrayBuffers (tensors, pools, kernel memory). */
  heapUsedBytes: number;
  arrayBufferBytes: number;
}
