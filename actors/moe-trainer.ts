/**
 * The trainer actor: one per device. It holds a data-parallel replica of the dense model and the
 * experts the placement gives its device, trains on its shard of every global batch, and meets the
 * other devices in the MoE layers' all-to-alls and the gradient all-reduces.
 */
import { Actor, registerActor, type ActorContext } from '../src/runtime/actor.js';
import { errors } from '../src/errors.js';
import { createBackend, type Backend } from '../src/kernels/backend.js';
import type { CharTransformer } from '../src/models/char-transformer.js';
import { makeTask, type Task, type TaskModel, type TaskSpec } from '../src/models/tasks.js';
import { DistributedMoELayer } from '../src/moe/distributed-moe.js';
import { AdamW } from '../src/nn/adamw.js';
import { CrossEntropyLoss } from '../src/nn/loss.js';
import { Rng } from '../src/nn/random.js';
import { Arena } from '../src/tensor/arena.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { learningRate } from '../src/train/schedule.js';
import { syncGradients } from '../src/train/grad-sync.js';
import { generate } from '../src/train/lm.js';
import { sendToNewReplicas } from '../src/moe/replica-transfer.js';

export interface MoETrainerArgs {
  /** The model and its data (built on the device from this plain data). */
  spec: TaskSpec;
  /** replicas[layer][e] = devices holding expert e in that MoE layer. */
  replicas: number[][][];
  batch: number;
  steps: number;
  lr: number;
  backend: string;
}

/** A device's share of a checkpoint: tensors by logical name (Adam moments as `name#m`, `name#v`). */
export interface TrainerState {
  tensors: Record<string, { shape: number[]; data: Float32Array }>;
  optimizerStep: number;
  dataRng: number;
}

export type TrainerMessage =
  | { type: 'step'; step: number }
  | { type: 'state' }
  | { type: 'eval'; batches: number }
  | { type: 'load'; state: TrainerState }
  | { type: 'generate'; prompt: string; length: number; seed: number }
  | { type: 'placement'; replicas: number[][][] };

export interface StepReport {
  step: number;
  loss: number;
  auxLoss: number;
  /** Per MoE layer, global assignments per expert. */
  expertCounts: number[][];
  /** Assignments this device's gates dropped for capacity. */
  droppedTokens: number;
  computeMs: number;
}

export class MoETrainer extends Actor {
  static override actorName = 'MoETrainer';
  private args: MoETrainerArgs;
  private be!: Backend;
  private task!: Task;
  private model!: TaskModel;
  private layers: DistributedMoELayer[] = [];
  private readonly arena = new Arena();
  private optimizer!: AdamW;
  private dataRng!: Rng;

  constructor(args: MoETrainerArgs) {
    super();
    this.args = args;
  }

  override async started(ctx: ActorContext): Promise<void> {
    const { spec, backend } = this.args;
    this.be = await createBackend(backend);
    this.task = makeTask(spec);
    const config = spec.config;
    this.model = this.task.build(this.be, (block, o) => {
      const comm = { device: ctx.device, devices: ctx.devices, collectives: ctx.collectives, replicas: () => this.args.replicas[block]! };
      const layer = new DistributedMoELayer(this.be, config.dModel, o, comm);
      this.layers.push(layer);
      return layer;
    });
    this.optimizer = new AdamW(this.be, this.model.parameters(), { lr: this.args.lr, clipNorm: 1, weightDecay: 0.01 });
    this.dataRng = new Rng(spec.config.seed ^ 0x5eed);
  }

  async receive(msg: TrainerMessage, ctx: ActorContext): Promise<StepReport | TrainerState | string | number> {
    if (msg.type === 'placement') return this.place(msg.replicas, ctx);
    if (msg.type === 'state') return this.state(ctx);
    if (msg.type === 'eval') return this.evaluate(msg.batches, ctx);
    if (msg.type === 'load') return this.load(msg.state);
    // Generation runs on every device in lockstep on the same text, so the MoE all-to-alls meet.
    if (msg.type === 'generate') {
      if (!this.task.corpus || this.task.name !== 'gpt-moe') throw errors.badArgument('generate', `${this.task.name} does not generate text`);
      return generate(this.be, this.model as CharTransformer, this.task.corpus, msg.prompt, msg.length, { seed: msg.seed });
    }
    // A step keeps nothing but parameters, gradients and Adam moments (each with storage of its
    // own): every other tensor it makes comes from the arena and goes back at the end.
    return this.arena.use(() => this.step(msg.step, ctx));
  }

  private async step(step: number, ctx: ActorContext): Promise<StepReport> {
    const t0 = performance.now();
    const { batch, steps, lr } = this.args;
    const me = ctx.device;
    // Every device draws the same global batch and trains on its share of the samples.
    const { inputs, targets } = this.task.sample(this.dataRng, batch, 'train');
    const per = batch / ctx.devices;
    const loss = new CrossEntropyLoss(this.be);
    const logits = await this.model.forward(this.shard(inputs, this.task.inputWidth, per, me), per);
    const localMean = await loss.forward(logits, this.shard(targets, this.task.targetWidth, per, me) as Tensor<'i32'>, `step ${step} loss on device ${me}`);
    // The loss is a mean over every scored target of the global batch (masked LM scores only some).
    const scored = (await ctx.collectives.allReduce(Tensor.from([loss.count]) as F32)).data[0]!;
    this.layers.forEach((l, i) => {
      const a = l.auxLoss();
      if (!Number.isFinite(a)) throw errors.nonFinite(`step ${step}, MoE layer ${i} router loss on device ${me}`, a);
    });
    await this.model.backward(await loss.backward(scored ? 1 / scored : 0));
    const norm = await syncGradients(ctx.collectives, me, this.denseParams(), this.expertGroups());
    const warmup = Math.max(1, Math.floor(steps / 20));
    await this.optimizer.update(learningRate(step, steps, lr, warmup), { gradNorm: norm });
    const lossSum = await ctx.collectives.allReduce(Tensor.from([localMean * loss.count]) as F32);
    return {
      step: step,
      loss: scored ? lossSum.data[0]! / scored : 0,
      auxLoss: this.model.auxLoss(),
      expertCounts: this.layers.map((l) => Array.from(l.lastRouting?.counts ?? [])),
      droppedTokens: this.layers.reduce((n, l) => n + (l.lastRouting?.dropped ?? 0), 0),
      computeMs: performance.now() - t0,
    };
  }

  private denseParams() {
    const experts = new Set(this.layers.flatMap((l) => l.experts.flatMap((x) => x.parameters())));
    return this.model.parameters().filter((p) => !experts.has(p));
  }

  private expertGroups() {
    return this.layers.flatMap((l, i) => l.experts.map((x, e) => ({ params: x.parameters(), group: this.args.replicas[i]![e]! })));
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
      const logits = await this.model.forward(this.shard(inputs, this.task.inputWidth, per, me), per);
      sum += (await loss.forward(logits, this.shard(targets, this.task.targetWidth, per, me) as Tensor<'i32'>, 'eval loss')) * loss.count;
      count += loss.count;
    }
    const total = await ctx.collectives.allReduce(Tensor.from([sum, count]) as F32);
    return total.data[1] ? total.data[0]! / total.data[1]! : 0;
  }

  /**
   * This device's share of a checkpoint: dense parameters from device 0 (they are identical on
   * every device), each expert from its lowest-numbered replica, with their Adam moments.
   */
  private state(ctx: ActorContext): TrainerState {
    const me = ctx.device;
    const tensors: TrainerState['tensors'] = {};
    const add = (p: import('../src/nn/parameter.js').Parameter) => {
      const mv = this.optimizer.moments(p);
      tensors[p.name] = { shape: [...p.value.shape], data: Float32Array.from(p.value.data) };
      tensors[`${p.name}#m`] = { shape: [...p.value.shape], data: Float32Array.from(mv.m.data) };
      tensors[`${p.name}#v`] = { shape: [...p.value.shape], data: Float32Array.from(mv.v.data) };
    };
    if (me === 0) this.denseParams().forEach(add);
    this.layers.forEach((l, i) => l.experts.forEach((x, e) => {
      if (Math.min(...this.args.replicas[i]![e]!) === me) x.parameters().forEach(add);
    }));
    return { tensors, optimizerStep: this.optimizer.step, dataRng: this.dataRng.position };
  }

  /** Restores parameters, Adam moments, the optimizer step and the data position from a checkpoint. */
  private load(state: TrainerState): number {
    const all = [...this.denseParams(), ...this.layers.flatMap((l) => l.experts.flatMap((x) => x.parameters()))];
    let loaded = 0;
    for (const p of all) {
      const v = state.tensors[p.name];
      if (!v) continue;
      p.value.data.set(v.data);
      const mv = this.optimizer.moments(p);
      mv.m.data.set(state.tensors[`${p.name}#m`]!.data);
      mv.v.data.set(state.tensors[`${p.name}#v`]!.data);
      loaded++;
    }
    this.optimizer.restore({ step: state.optimizerStep, moments: {} });
    this.dataRng.position = state.dataRng;
    return loaded;
  }

  /**
   * Switches to a new placement at a step boundary (this message is handled between two steps on
   * every device); new replicas receive parameters and Adam moments. Returns the bytes received here.
   */
  private async place(next: number[][][], ctx: ActorContext): Promise<number> {
    const received = await sendToNewReplicas(ctx.collectives, ctx.device, this.args.replicas, next, (l, e) =>
      this.layers[l]!.experts[e]!.parameters().flatMap((p) => {
        const mv = this.optimizer.moments(p);
        return [p.value, mv.m, mv.v];
      }));
    this.args.replicas = next;
    this.optimizer.setParameters(this.model.parameters());
    return received;
  }

  /** A trainer holds a model, not plain data: it is rebuilt from its arguments, never migrated. */
  override snapshot(): unknown {
    return { args: this.args };
  }
}
registerActor(MoETrainer);
