/**
 * The trainer actor: one per device. It holds a data-parallel replica of the dense model, trains on
 * its shard of every global batch, and meets the other devices in the MoE layers' all-to-alls and
 * the gradient all-reduces. Each MoE layer's router is a gate actor and its experts are expert
 * actors (actors/gate.ts, actors/expert.ts), hosted where the placement puts them: the MoE layers
 * send the experts their rows as messages (src/runtime/row-post.ts), and the trainer tells the
 * co-located ones to take their optimizer step. It learns of placement changes as new actor refs.
 */
import { Actor, registerActor, type ActorContext, type ActorRef } from '../src/runtime/actor.js';
import { errors } from '../src/errors.js';
import { sharedBackend, type Backend } from '../src/kernels/backend.js';
import type { CharTransformer } from '../src/models/char-transformer.js';
import { makeTask, type Task, type TaskModel, type TaskSpec } from '../src/models/tasks.js';
import { AdamW } from '../src/nn/adamw.js';
import { CrossEntropyLoss } from '../src/nn/loss.js';
import { Rng } from '../src/nn/random.js';
import { Arena } from '../src/tensor/arena.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { adamWSettings, learningRate } from '../src/train/schedule.js';
import { syncGradients } from '../src/train/grad-sync.js';
import { generate } from '../src/train/lm.js';
import { addToState, checkState, loadFromState, type OwnedParams, type TrainerState } from '../src/train/trainer-state.js';
import type { ExpertActor } from './expert.js';
import { MoEWiring, type MoEActors, type MoELayerSpec, type ShadowingArgs } from './moe-wiring.js';
import { untaped } from '../src/autograd/tape.js';
import { packShare, SnapshotStore, type SnapshotMessage } from './trainer-snapshots.js';
import { writeCheckpointFile } from '../src/train/checkpoint.js';
import { loadTensors, type ShardEntry } from '../src/train/sharded-checkpoint.js';
import { basename } from 'node:path';
import { valueAndGrads } from '../src/autograd/grad.js';

export type { MoEActors, MoELayerSpec, TrainerState };

interface TrainerSnapshot {
  args: MoETrainerArgs;
  dense: TrainerState;
  lastStep: number;
  rngAtStart: number;
}

export interface MoETrainerArgs {
  /** The model and its data (built on the device from this plain data). */
  spec: TaskSpec;
  batch: number;
  steps: number;
  lr: number;
  backend: string;
  /** Expert shadowing in every MoE layer, chosen each step after gating (fastermoe, flexmoe-react). */
  shadowing?: ShadowingArgs;
  /** Every hosted expert's buffer padded to the step's largest expert (the static policy: DeepSpeed dropless). */
  padMax?: boolean;
}

export type TrainerMessage =
  | { type: 'step'; step: number }
  /** How many optimizer steps this trainer has taken (after a crash: did the failed step land?). */
  | { type: 'progress' }
  /** Write this device's share of a checkpoint to `file` (a shard; the driver writes the manifest). */
  | { type: 'save-shard'; file: string; meta: Record<string, unknown> }
  /** Resume from the checkpoint at `path`, reading here only the shards holding what this device trains. */
  | { type: 'load-from'; path: string }
  /** Load every device's in-memory share of `step` (stashed by `trainers`, one per device) and go on from there. */
  | { type: 'rollback'; step: number; trainers: ActorRef[] }
  | SnapshotMessage
  | { type: 'eval'; batches: number }
  | { type: 'generate'; prompt: string; length: number; seed: number }
  | { type: 'specs' }
  /** MoE layers and tokens per sample of this model. */
  | { type: 'shape' }
  /** The gate and expert actors to use (after spawning, and after every placement change). */
  | { type: 'attach'; replicas: number[][][]; actors: MoEActors; scheduler?: ActorRef };

export interface StepReport {
  step: number;
  loss: number;
  auxLoss: number;
  /** Per MoE layer, assignments per expert this device's gate routed. */
  expertCounts: number[][];
  /** Assignments this device's gates dropped for capacity. */
  droppedTokens: number;
  /** Per MoE layer, the experts shadowed this step (the same on every device). */
  shadows: number[][];
  /** Rows this device's experts computed in the step's forward, over its MoE layers, padding included. */
  expertRows: number;
  /** Of computeMs, the time this device's experts spent computing: per MoE layer, its forward then its backward. */
  expertMs: number[];
  computeMs: number;
  /** Of computeMs, the time spent in exchanges with other devices (moving data, waiting for them). */
  exchangeMs: number;
  /** Of computeMs, the time this device's hosted experts spent in their optimizer updates: part of what holding an expert costs a step. */
  heldMs: number;
  /** Optimizer steps taken, this one included. */
  optimizerStep: number;
}

export class MoETrainer extends Actor {
  static override actorName = 'MoETrainer';
  private args: MoETrainerArgs;
  private be!: Backend;
  private task!: Task;
  private model!: TaskModel;
  private moe!: MoEWiring;
  private readonly arena = new Arena();
  /** The dense parts' optimizer; gates and experts carry their own (their moments move with them). */
  private optimizer!: AdamW;
  private dataRng!: Rng;
  /** The scheduler actor the gates report their routing to (none: a fixed placement, or a policy run by the driver). */
  private scheduler: ActorRef | null = null;
  /** The last step started and the data position before it: a step run again draws the same batch. */
  private lastStep = -1;
  private rngAtStart = 0;
  private readonly snapshots = new SnapshotStore();
  /** Set by `restore` (a trainer rebuilt from a data-parallel peer): put in place once the model is built. */
  private restoring: TrainerSnapshot | null = null;

  constructor(args: MoETrainerArgs) {
    super();
    this.args = args;
  }

  override async started(ctx: ActorContext): Promise<void> {
    const { spec, backend } = this.args;
    this.be = await sharedBackend(backend);
    this.task = makeTask(spec);
    this.moe = new MoEWiring(ctx, this.be, spec.config.dModel, this.args.shadowing, this.args.padMax === true);
    this.model = this.task.build(this.be, this.moe.makeMoE);
    // Built before any gate or expert is attached, so this is exactly the dense parameters.
    this.optimizer = new AdamW(this.be, this.model.parameters(), adamWSettings(this.args.lr));
    this.dataRng = new Rng(spec.config.seed ^ 0x5eed);
    if (this.restoring) {
      const r = this.restoring;
      loadFromState(r.dense, this.dense());
      [this.dataRng.position, this.lastStep, this.rngAtStart] = [r.dense.dataRng, r.lastStep, r.rngAtStart];
      this.restoring = null;
    }
  }

  private get layers() {
    return this.moe.layers;
  }

  async receive(msg: TrainerMessage, ctx: ActorContext): Promise<StepReport | MoELayerSpec[] | { layers: number; tokensPerSample: number } | { needed: string[]; problems: string[] } | { entry: ShardEntry; optimizerStep: number; dataRng: number } | string | number | void> {
    if (msg.type === 'specs') return this.moe.specs;
    if (msg.type === 'shape') return { layers: this.layers.length, tokensPerSample: this.task.tokensPerSample ?? this.task.inputWidth };
    if (msg.type === 'attach') {
      this.scheduler = msg.scheduler ?? null;
      return this.moe.attach(msg.replicas, msg.actors);
    }
    if (msg.type === 'eval') return this.evaluate(msg.batches, ctx);
    if (msg.type === 'progress') return this.optimizer.step;
    if (msg.type === 'save-shard') {
      const state = this.state(ctx);
      const tensors = new Map(Object.entries(state.tensors));
      const { bytes, checksum } = writeCheckpointFile(msg.file, { ...msg.meta, shard: ctx.device }, tensors);
      const entry: ShardEntry = { file: basename(msg.file), device: ctx.device, checksum, bytes, tensors: [...tensors.keys()] };
      return { entry, optimizerStep: state.optimizerStep, dataRng: state.dataRng };
    }
    if (msg.type === 'load-from') {
      const needed = checkState({ tensors: {}, optimizerStep: 0, dataRng: 0 }, this.owned()).needed;
      const ckpt = loadTensors(msg.path, needed);
      return this.load({ tensors: Object.fromEntries(ckpt.tensors), optimizerStep: ckpt.meta.optimizerStep as number, dataRng: ckpt.meta.dataRng as number });
    }
    if (msg.type === 'hold') {
      const mine = this.owned().filter((part) => Math.min(...part.group) === ctx.device);
      return this.snapshots.hold(packShare(msg.step, ctx.device, mine, { optimizerStep: this.optimizer.step, dataRng: this.dataRng.position }), ctx);
    }
    if (msg.type === 'rollback') {
      const checked = this.load(await this.snapshots.gather(msg.step, msg.trainers, ctx));
      if (checked.problems.length) throw errors.badArgument('rollback', `the snapshot of step ${msg.step} does not fit: it ${checked.problems.slice(0, 3).join('; ')}`);
      this.clearGradients();
      this.lastStep = -1;
      return;
    }
    // Generation runs on every device in lockstep on the same text, so the MoE all-to-alls meet.
    if (msg.type === 'generate') {
      if (!this.task.corpus || this.task.name !== 'gpt-moe') throw errors.badArgument('generate', `${this.task.name} does not generate text`);
      return generate(this.be, this.model as CharTransformer, this.task.corpus, msg.prompt, msg.length, { seed: msg.seed });
    }
    // A step keeps nothing but parameters, gradients and Adam moments (each with storage of its
    // own): every other tensor it makes comes from the arena and goes back at the end.
    return this.arena.use(() => this.step(msg.step, ctx));
  }

  /**
   * Zeroes every gradient this device holds. A backward adds into them as it goes (Tape.sink), so a
   * step that failed part-way leaves some behind; the optimizer clears them only after an update.
   */
  private clearGradients(): void {
    for (const { params } of this.owned()) for (const p of params) this.be.zero(p.grad);
  }

  /** The dense parts (everything but gates and experts) and their optimizer. */
  private dense(): OwnedParams {
    return { params: this.optimizer.parameters, optimizer: this.optimizer };
  }

  /**
   * Everything this device trains, each with its optimizer and the devices holding a copy: the dense
   * parts and each layer's gate (every device: data parallel), each hosted expert (its replicas).
   */
  private owned(): (OwnedParams & { expert: boolean; group: number[]; actor?: ExpertActor })[] {
    const all = [...Array(this.moe.devices).keys()];
    return [
      { ...this.dense(), expert: false, group: all },
      ...this.layers.map((_, l) => {
        const g = this.moe.gateActor(l)!;
        return { params: g.gate.parameters(), optimizer: g.optimizer!, expert: false, group: all };
      }),
      ...this.moe.hosted().map(({ layer, expert, actor }) => ({ params: actor.expert.parameters(), optimizer: actor.optimizer!, expert: true, group: this.moe.replicas[layer]![expert]!, actor })),
    ];
  }

  private async step(step: number, ctx: ActorContext): Promise<StepReport> {
    const t0 = performance.now(), x0 = ctx.collectives.exchangeMs;
    const { batch, steps, lr } = this.args;
    const me = ctx.device;
    // Every device draws the same global batch and trains on its share of the samples.
    // A step run again (its first run failed with a device) draws the batch it drew the first time,
    // and starts from no gradient: its first run may have added some before it failed.
    if (step === this.lastStep) {
      this.dataRng.position = this.rngAtStart;
      this.clearGradients();
    }
    [this.lastStep, this.rngAtStart] = [step, this.dataRng.position];
    const { inputs, targets } = this.task.sample(this.dataRng, batch, 'train');
    const per = batch / ctx.devices;
    // Gates that route by a workload route by this step's (GateOptions.routing).
    this.layers.forEach((_, l) => (this.moe.gateActor(l)!.gate.routingStep = step));
    const localTargets = this.shard(targets, this.task.targetWidth, per, me) as Tensor<'i32'>;
    // The loss is a mean over every scored target of the global batch (masked LM scores only some).
    let mine = 0;
    for (let i = 0; i < localTargets.size; i++) if (localTargets.data[i]! >= 0) mine++;
    const scored = (await ctx.collectives.allReduce(Tensor.from([mine]) as F32)).data[0]!;
    const loss = new CrossEntropyLoss(this.be);
    const localMean = await valueAndGrads(this.be, this.model.parameters(), async () => {
      const logits = await this.model.forward(this.shard(inputs, this.task.inputWidth, per, me), per);
      await loss.forward(logits, localTargets, `step ${step} loss on device ${me}`, scored ? 1 / scored : 0);
      this.layers.forEach((l, i) => {
        const a = l.auxLoss();
        if (!Number.isFinite(a)) throw errors.nonFinite(`step ${step}, MoE layer ${i} router loss on device ${me}`, a);
      });
      return loss.tensor;
    });
    const owned = this.owned();
    // Gates are data parallel like the dense parts: their gradients go in the same bucket.
    const norm = await syncGradients(this.be, ctx.collectives, me, owned.filter((o) => !o.expert).flatMap((o) => o.params), owned.filter((o) => o.expert));
    // The last exchange of the step comes before any update: a device lost before it fails the
    // step everywhere with nothing updated; after it, every survivor completes the step.
    const lossSum = await ctx.collectives.allReduce(Tensor.from([localMean * loss.count]) as F32);
    const warmup = Math.max(1, Math.floor(steps / 20));
    const rate = learningRate(step, steps, lr, warmup);
    // The dense parts and gates step here; each hosted expert takes its own step, told to (a message
    // to an actor on this device: a direct call).
    let heldMs = 0;
    for (const o of owned) {
      if (!o.actor) {
        await o.optimizer.update(rate, { gradNorm: norm });
        continue;
      }
      const t1 = performance.now();
      await o.actor.receive({ type: 'update', lr: rate, gradNorm: norm });
      heldMs += performance.now() - t1;
    }
    // The gates tell the scheduler what they routed, once the step's exchanges are over.
    if (this.scheduler) this.layers.forEach((_, l) => this.moe.gateActor(l)!.publish(this.scheduler!, step, l));
    return {
      step: step,
      loss: scored ? lossSum.data[0]! / scored : 0,
      auxLoss: this.model.auxLoss(),
      expertCounts: this.layers.map((l) => Array.from(l.lastRouting?.counts ?? [])),
      droppedTokens: this.layers.reduce((n, l) => n + (l.lastRouting?.dropped ?? 0), 0),
      shadows: this.layers.map((l) => [...l.lastShadows]),
      expertRows: this.layers.reduce((n, l) => n + l.lastComputedRows, 0),
      expertMs: this.layers.flatMap((l) => [l.forwardExpertMs, l.backwardExpertMs]),
      computeMs: performance.now() - t0,
      exchangeMs: ctx.collectives.exchangeMs - x0,
      heldMs,
      optimizerStep: this.optimizer.step,
    };
  }

  /** Samples `per` of the batch starting at this device's share, `width` elements each. */
  private shard(t: Tensor, width: number, per: number, me: number): Tensor {
    const rest = t.shape.slice(1);
    const shape = t.rank > 1 ? [per, ...rest] : [per * width];
    return new Tensor(t.dtype, shape, t.data.slice(me * per * width, (me + 1) * per * width) as never);
  }

  /** Mean held-out loss over fixed batches (the same every call), each device on its share. */
  private async evaluate(batches: number, ctx: ActorContext): Promise<number> {
    const { batch, spec } = this.args;
    const rng = new Rng(spec.config.seed ^ 0xe7a1);
    const per = batch / ctx.devices, me = ctx.device;
    const loss = new CrossEntropyLoss(this.be);
    let sum = 0, count = 0;
    for (let i = 0; i < batches; i++) {
      const { inputs, targets } = this.task.sample(rng, batch, 'eval');
      const logits = await untaped(() => this.model.forward(this.shard(inputs, this.task.inputWidth, per, me), per));
      sum += (await loss.forward(logits, this.shard(targets, this.task.targetWidth, per, me) as Tensor<'i32'>, 'eval loss')) * loss.count;
      count += loss.count;
    }
    const total = await ctx.collectives.allReduce(Tensor.from([sum, count]) as F32);
    return total.data[1] ? total.data[0]! / total.data[1]! : 0;
  }

  /**
   * This device's share of a checkpoint: each part from the lowest-numbered device holding it (the
   * dense parts and gates from device 0, each expert from its first replica), with Adam moments.
   */
  private state(ctx: ActorContext): TrainerState {
    const tensors: TrainerState['tensors'] = {};
    for (const part of this.owned()) if (Math.min(...part.group) === ctx.device) addToState(tensors, part);
    return { tensors, optimizerStep: this.optimizer.step, dataRng: this.dataRng.position };
  }

  /**
   * Restores parameters, Adam moments, optimizer steps and the data position from a checkpoint,
   * unless a tensor is missing or of another size: then nothing changes, and the answer says what.
   */
  private load(state: TrainerState): { needed: string[]; problems: string[] } {
    const parts = this.owned(), checked = checkState(state, parts);
    if (checked.problems.length) return checked;
    for (const part of parts) loadFromState(state, part);
    this.dataRng.position = state.dataRng;
    return checked;
  }

  /**
   * A trainer is a data-parallel replica: its snapshot is its arguments and the dense state (values,
   * Adam moments, optimizer step, data position), so a device rebuilt after a crash gets it from a
   * live peer. Gates and experts are actors of their own and come back separately.
   */
  override snapshot(): TrainerSnapshot {
    const dense: TrainerState = { tensors: {}, optimizerStep: this.optimizer.step, dataRng: this.dataRng.position };
    addToState(dense.tensors, this.dense());
    return { args: this.args, dense, lastStep: this.lastStep, rngAtStart: this.rngAtStart };
  }

  static override restore(snapshot: unknown): Actor {
    const s = snapshot as TrainerSnapshot;
    const t = new MoETrainer(s.args);
    t.restoring = s;
    return t;
  }
}
registerActor(MoETrainer);
