import type { ActorRef } from './actor.js';
import type { DeviceStats } from './messages.js';

/** Everything the runtime reports on `system.events$`: the one stream schedulers and dashboards read. */
export type RuntimeEvent =
  | { type: 'device-up'; device: number; incarnation: number }
  | { type: 'device-down'; device: number; reason: string }
  | { type: 'device-failed'; device: number; reason: string }
  | { type: 'actor-spawned'; ref: ActorRef; className: string }
  | { type: 'actor-cloned'; ref: ActorRef; from: ActorRef }
  | { type: 'actor-migrated'; ref: ActorRef; from: ActorRef; stashed: number }
  | { type: 'actor-stopped'; ref: ActorRef }
  | { type: 'actor-restored'; ref: ActorRef; source: 'replica' | 'snapshot' | 'initial' }
  | { type: 'actor-event'; ref: ActorRef; data: unknown }
  | { type: 'channel-stats'; stats: DeviceStats[] }
  | { type: 'device-busy'; step: number; device: number; busyMs: number };
