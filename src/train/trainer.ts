import { Subject, type Observable } from 'rxjs';
import type { CharTransformerConfig } from '../models/char-transformer.js';
import type { TaskName } from '../models/tasks.js';
import type { RuntimeEvent } from '../runtime/events.js';
import type { VisionMoEConfig } from '../models/vision-moe.js';
import type { CostProfile } from '../sched/cost.js';
import { calibrate } from '../sched/calibrate.js';
import { defaultLivePolicy, isFixedPlacement } from '../sched/policies/index.js';
import { serveDashboard, type Dashboard } from '../dashboard/server.js';
import { Placement, balanceRatio, deviceLoads, withShadows } from '../sched/placement.js';
import type { HostsOptions } from '../hosts/cluster.js';
import { trainDistributedWithSample, type DistributedStep, type Rebalance } from './distributed.js';
import type { RecoveryReport } from './recovery.js';

/** Everything a training run reports, in order: the one stream progress output, callbacks and dashboards read. */
export type TrainEvent =
  /** `replicas`: layer 0's placement at the start (expert → devices holding it), when it is known. */
  | { type: 'train-begin'; devices: number; steps: number; policy: string; replicas?: number[][] }
  | ({ type: 'batch-end'; balanceRatio: number } & DistributedStep)
  | { type: 'epoch-end'; epoch: number; step: number; loss: number; evalLoss?: number }
  | ({ type: 'rebalance' } & Rebalance)
  /** A placement or lifecycle event of the runtime (a device up or down; an actor spawned, cloned, migrated, stopped, restored). */
  | { type: 'runtime'; event: RuntimeEvent }
  /** A step failed with a crashed device, and how training went on (re-run, kept, or rolled back to a snapshot). */
  | ({ type: 'recovery' } & RecoveryReport)
  | { type: 'train-end'; steps: number; firstLoss: number; lastLoss: number; evalLoss?: number; tokensPerSec: number; sample: string };

export interface FitCallbacks {
  onBatchEnd?: (e: Extract<TrainEvent, { type: 'batch-end' }>) => void;
  onEpochEnd?: (e: Extract<TrainEvent, { type: 'epoch-end' }>) => void;
  onRebalance?: (e: Extract<TrainEvent, { type: 'rebalance' }>) => void;
}

export interface TrainerOptions {
  /** gpt-moe (default), bert-moe, vision-moe, or a model of your own (`registerTask`, listed in `modules`). */
  task?: TaskName;
  /** Modules that register models of your own (imported here and on every device). */
  modules?: (string | URL)[];
  config: CharTransformerConfig | VisionMoEConfig;
  imagesPerDigit?: number;
  devices?: number;
  batch?: number;
  lr?: number;
  /** Live placement policy: static-unpadded (default) or static (DeepSpeed's padded buffers), flexmoe or eplb (re-plan between steps), fastermoe (shadows within each step), flexmoe-react (both), or one of your own (registerPolicy). */
  policy?: string;
  /** Expert slots per device (default: twice what round-robin needs). */
  slots?: number;
  /** Cost profile for live policies (default: measured on this machine at the start). */
  profile?: CostProfile;
  backend?: string;
  corpusChars?: number;
  /** Devices of other machines, joined through NATS (docs/hosts.md); `devices` is then what they offer together. */
  hosts?: HostsOptions;
  /** Plans from the profile alone, each awaited: the same plans on a busy machine (`trainDistributed`'s option). */
  reproducibleSchedule?: boolean;
}

export interface FitOptions {
  steps?: number;
  /** Alternatively: epochs × stepsPerEpoch steps. */
  epochs?: number;
  stepsPerEpoch?: number;
  callbacks?: FitCallbacks;
  checkpoint?: string;
  checkpointEvery?: number;
  /** In-memory snapshots for crash recovery every this many steps (default 10; 0: none). */
  snapshotEvery?: number;
  resume?: string;
  evalEvery?: number;
  /** Record the routing of every step as a flexmoe-trace/1 file (replay it with flexmoe simulate --trace). */
  recordTrace?: string;
  /** Characters to sample after `Call me Ishmael. ` at the end (0: none). */
  sample?: number;
}

/**
 * Trains a GPT-MoE on worker-thread devices, Keras-style: `await trainer.fit({ steps, callbacks })`
 * returns the history; `trainer.events$` carries every batch, epoch, re-plan and the end of training.
 *
 * @example
 * const trainer = new Trainer({ config, devices: 2, policy: 'flexmoe' });
 * trainer.events$.subscribe((e) => e.type === 'rebalance' && console.log(e.ops));
 * const history = await trainer.fit({ steps: 200, callbacks: { onBatchEnd: (b) => console.log(b.loss) } });
 */
export class Trainer {
  private readonly events = new Subject<TrainEvent>();
  readonly events$: Observable<TrainEvent> = this.events.asObservable();

  constructor(readonly options: TrainerOptions) {}

  /** Serves a live dashboard of this trainer's events (127.0.0.1 unless told otherwise). */
  serveDashboard(opts: { port?: number; host?: string } = {}): Promise<Dashboard> {
    return serveDashboard(this.events$, opts);
  }

  async fit(opts: FitOptions = {}): Promise<DistributedStep[]> {
    const { config } = this.options;
    const devices = this.options.devices ?? 1;
    const stepsPerEpoch = opts.stepsPerEpoch ?? 100;
    const steps = opts.steps ?? (opts.epochs ?? 1) * stepsPerEpoch;
    const policy = this.options.policy ?? defaultLivePolicy;
    const experts = config.moe?.experts ?? 1;
    const slots = this.options.slots ?? 2 * Math.ceil(experts / devices);
    const placement = Placement.roundRobin(devices, slots, experts);
    // The placement each MoE layer runs with now, for the balance ratio (max ÷ mean device load);
    // the model says how many MoE layers it has (a model of your own need not follow config.layers).
    const current: Placement[] = [];
    const profile = typeof policy === 'string' && isFixedPlacement(policy) ? undefined : (this.options.profile ?? (await calibrate({ dModel: config.dModel, dFF: config.dFF, devices, backend: this.options.backend, hosts: this.options.hosts })));
    const subs = [
      opts.callbacks?.onBatchEnd && this.events$.subscribe((e) => e.type === 'batch-end' && opts.callbacks!.onBatchEnd!(e)),
      opts.callbacks?.onEpochEnd && this.events$.subscribe((e) => e.type === 'epoch-end' && opts.callbacks!.onEpochEnd!(e)),
      opts.callbacks?.onRebalance && this.events$.subscribe((e) => e.type === 'rebalance' && opts.callbacks!.onRebalance!(e)),
    ];
    this.events.next({ type: 'train-begin', devices, steps, policy, replicas: placement.replicas() });
    let tokens = 0, ms = 0;
    try {
      const { history, sample } = await trainDistributedWithSample({
        task: this.options.task, modules: this.options.modules, imagesPerDigit: this.options.imagesPerDigit, hosts: this.options.hosts,
        devices, config, steps, batch: this.options.batch ?? 16, lr: this.options.lr ?? 8e-3, backend: this.options.backend,
        corpusChars: this.options.corpusChars, replicas: placement.replicas(), slots, policy, profile, reproducibleSchedule: this.options.reproducibleSchedule,
        recordTrace: opts.recordTrace, checkpoint: opts.checkpoint, checkpointEvery: opts.checkpointEvery, snapshotEvery: opts.snapshotEvery, resume: opts.resume, evalEvery: opts.evalEvery ?? stepsPerEpoch,
        sample: opts.sample ? { prompt: 'Call me Ishmael. ', length: opts.sample, seed: config.seed } : undefined,
        onRuntimeEvent: (event) => {
          if (lifecycle.has(event.type)) this.events.next({ type: 'runtime', event });
        },
        onRecovery: (r) => this.events.next({ type: 'recovery', ...r }),
        onRebalance: (r) => {
          current[r.layer] = fromReplicas(r.replicas, devices, slots);
          this.events.next({ type: 'rebalance', ...r });
        },
        onStep: (s) => {
          tokens += (s.tokensPerSec * s.stepMs) / 1000;
          ms += s.stepMs;
          const br = Math.max(1, ...s.expertCounts.map((c, l) => balanceRatio(deviceLoads(c, withShadows((current[l] ??= placement.clone()), s.shadows[l])))));
          this.events.next({ type: 'batch-end', balanceRatio: br, ...s });
          if ((s.step + 1) % stepsPerEpoch === 0) this.events.next({ type: 'epoch-end', epoch: (s.step + 1) / stepsPerEpoch - 1, step: s.step, loss: s.loss, evalLoss: s.evalLoss });
        },
      });
      this.events.next({ type: 'train-end', steps: history.length, firstLoss: history[0]?.loss ?? NaN, lastLoss: history.at(-1)?.loss ?? NaN, evalLoss: history.at(-1)?.evalLoss, tokensPerSec: (tokens * 1000) / ms, sample });
      return history;
    } finally {
      for (const s of subs) s?.unsubscribe();
    }
  }
}

const lifecycle = new Set<RuntimeEvent['type']>(['device-up', 'device-down', 'device-failed', 'actor-spawned', 'actor-cloned', 'actor-migrated', 'actor-stopped', 'actor-restored']);

function fromReplicas(replicas: number[][], devices: number, slots: number): Placement {
  const hosts = Array.from({ length: devices }, (_, d) => replicas.flatMap((r, e) => (r.includes(d) ? [e] : [])));
  return new Placement(devices, slots, replicas.length, hosts);
}
