// The options and results of trainDistributed (distributed.ts), apart so the driver stays readable.
import type { CharTransformerConfig } from '../models/char-transformer.js';
import type { TaskName } from '../models/tasks.js';
import type { VisionMoEConfig } from '../models/vision-moe.js';
import type { RuntimeEvent } from '../runtime/events.js';
import type { CostProfile } from '../sched/cost.js';
import type { PlacementOp } from '../sched/placement.js';
import type { Policy } from '../sched/policy.js';
import type { HostsOptions } from '../hosts/cluster.js';
import type { PlacementMoves } from './moe-actors.js';
import type { RecoveryReport } from './recovery.js';

export interface DistributedOptions {
  /** Compute devices; with `hosts`, the devices the hosts offer together (checked once they are claimed). */
  devices: number;
  /** Train on devices of other machines, joined through NATS (docs/hosts.md): every device is a host's. */
  hosts?: HostsOptions;
  /** Which model: gpt-moe (default), bert-moe, vision-moe, or one of your own (`registerTask`); `config` is that model's. */
  task?: TaskName;
  /** Modules that register models of your own (imported here and on every device). */
  modules?: (string | URL)[];
  config: CharTransformerConfig | VisionMoEConfig;
  /** Images per digit for vision-moe (absent: all). */
  imagesPerDigit?: number;
  steps: number;
  /** Global batch (sequences); split evenly over devices. */
  batch: number;
  lr: number;
  /** replicas[e] = devices holding expert e at the start (every layer); default: expert e on device e mod D. */
  replicas?: number[][];
  /** Expert slots per device (the budget a policy may fill); default: what the start placement uses. */
  slots?: number;
  /**
   * Live placement policy. Default `static-unpadded`: the fixed placement, each expert computing
   * its own rows; `static` is DeepSpeed's, every expert buffer padded to the step's largest expert.
   * `flexmoe` or `eplb` run in the scheduler actor between steps on the routing the gates reported; `fastermoe` keeps the placement and shadows hot experts
   * within each step, on every device, after gating; `flexmoe-react` does both; a policy of your
   * own registered by name (`registerPolicy` in one of `modules`) runs in the scheduler actor like
   * flexmoe; a policy object's `decide` runs here between steps.
   */
  policy?: string | (() => Policy);
  /** Cost profile the policy plans with (this machine's, from `flexmoe calibrate`). */
  profile?: CostProfile;
  /**
   * Plans that depend on routing alone: the scheduler plans on `profile` as given, learning nothing
   * from measured times, and each step's plan is awaited and carried out at the next boundary
   * (planning then sits on the critical path). For tests and reproducible runs; default false.
   */
  reproducibleSchedule?: boolean;
  /**
   * Where the scheduler actor runs: `own`, a service device of its own, so planning never shares a
   * training device's event loop; `last`, the last training device. Default `auto`: its own when the
   * machine has a core to spare beyond the devices, else the last device (a thread more than there
   * are cores costs the devices more than planning beside them does; bench/scheduler-thread.ts).
   */
  schedulerThread?: 'own' | 'last' | 'auto';
  onRebalance?: (r: Rebalance) => void;
  /** The runtime's events (devices up/down, actors spawned, cloned, migrated, stopped, restored). */
  onRuntimeEvent?: (e: RuntimeEvent) => void;
  /** Write a checkpoint here every `checkpointEvery` steps and at the end. */
  checkpoint?: string;
  checkpointEvery?: number;
  /** Resume from this checkpoint (written on any number of devices); steps continue from its step. */
  resume?: string;
  /** Record each step's routing (per layer, a devices × experts matrix of what each device's gate routed) as a flexmoe-trace/1 file. */
  recordTrace?: string;
  /** Stop before this step (the schedule still spans `steps`): for interrupting a run on purpose. */
  until?: number;
  /**
   * In-memory snapshots for crash recovery (default 10): at the boundary before every this many
   * steps (and before the first) every device stashes its share of the state in shared memory that
   * outlives its thread (ActorContext.stash). A device lost mid-step is rebuilt; when all it held has a live replica the step
   * runs again, otherwise every device rolls back to the last snapshot. 0: no snapshots (such a
   * crash then stops the run).
   */
  snapshotEvery?: number;
  /** What each crash was and how training went on (the runtime's own events carry the details). */
  onRecovery?: (r: RecoveryReport) => void;
  /** Fault drills: make `device` fail mid-step at `step` (the way real devices fail), once each. */
  faults?: { step: number; device: number; how?: 'exit' | 'throw' }[];
  /** Held-out loss every this many steps and at the end (0: only at the end). */
  evalEvery?: number;
  evalBatches?: number;
  backend?: string;
  corpusChars?: number;
  onStep?: (s: DistributedStep) => void;
  /** After training, sample this many characters after `prompt` (every device computes it in lockstep). */
  sample?: { prompt: string; length: number; seed: number };
}

export interface DistributedStep {
  step: number;
  loss: number;
  auxLoss: number;
  /** Per MoE layer, assignments per expert over all devices. */
  expertCounts: number[][];
  /** Per MoE layer, per source device, assignments per expert (what each device's gate routed). */
  sourceCounts: number[][][];
  /** Assignments dropped for capacity, over all devices and layers. */
  droppedTokens: number;
  /** Per MoE layer, the experts shadowed this step (fastermoe, flexmoe-react; empty otherwise). */
  shadows: number[][];
  stepMs: number;
  tokensPerSec: number;
  /** Milliseconds each device spent in its step (busy time). */
  deviceMs: number[];
  /** Of deviceMs, the milliseconds each device spent in exchanges (all-to-alls, all-reduces): data moving and waiting for peers. */
  deviceExchangeMs: number[];
  /** Rows each device's experts computed in the forward, over the MoE layers: padding included (static pads to the largest expert). */
  deviceExpertRows: number[];
  /** Of deviceMs, the milliseconds each device's experts spent computing (forward and backward): the part a placement moves. */
  deviceExpertMs: number[];
  /** Of deviceMs, the milliseconds each device's hosted experts spent in their optimizer updates (a held expert's own cost, measured). */
  deviceHeldMs: number[];
  /**
   * Summed over the MoE layers' forwards and backwards (devices meet in each one's all-to-alls), how
   * far the busiest device's expert time is above the devices' mean: all a perfect, free balance
   * could take off the step.
   */
  expertImbalanceMs: number;
  /** Version of the placement this step ran with (bumps when a plan is applied). */
  placementVersion: number;
  /** Milliseconds spent switching placement after this step (0 when nothing changed). */
  replanMs: number;
  /** Held-out loss, on the steps where it was measured. */
  evalLoss?: number;
}

export interface Rebalance {
  step: number;
  layer: number;
  ops: PlacementOp[];
  version: number;
  /** Replicas per expert after the change. */
  replicas: number[][];
  /** Why: the cost model's predicted step time of the layer before and after, and the move's cost (ms; built-in policies). */
  predictedMsBefore?: number;
  predictedMsAfter?: number;
  migrationMs?: number;
  /** What the runtime did to the layer's expert actors at this boundary (clone / migrate / stop). */
  moves?: PlacementMoves;
}
