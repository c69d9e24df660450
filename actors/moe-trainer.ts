/**
 * The trainer actor: one per device. It holds a data-parallel replica of the dense model and the
 * experts the placement gives its device, trains on its shard of every global batch, and meets the
 * other devices in the MoE layers' all-to-alls and the gradient all-reduces.
 */
import { Actor, registerActor, type ActorContext } from '../src/runtime/actor.js';
import { errors } from '../src/errors.js';
import { createBackend, type Backend } from '../src/kernels/backend.js';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import { CharTransformer, type CharTransformerConfig } from '../src/models/char-transformer.js';
import { DistributedMoELayer } from '../src/moe/distributed-moe.js';
import { AdamW } from '../src/nn/adamw.js';
import { CrossEntropyLoss } from '../src/nn/loss.js';
import { Rng } from '../src/nn/random.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { learningRate } from '../src/train/schedule.js';
import { syncGradients } from '../src/train/grad-sync.js';
import { generate } from '../src/train/lm.js';

export interface MoETrainerArgs {
  config: CharTransformerConfig;
  /** replicas[layer][e] = devices holding expert e in that MoE layer. */
  replicas: number[][][];
  batch: number;
  steps: number;
  lr: number;
  backend: string;
  /** Characters of the corpus to use (0: all). */
  corpusChars?: number;
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
  private model!: CharTransformer;
  private layers: DistributedMoELayer[] = [];
  private corpus!: CharCorpus;
  private optimizer!: AdamW;
  private dataRng!: Rng;

  constructor(args: MoETrainerArgs) {
    super();
    this.args = args;
  }

  override async started(ctx: ActorContext): Promise<void> {
    const { config, backend, corpusChars } = this.args;
    this.be = await createBackend(backend);
    const text = mobyDick();
    this.corpus = new CharCorpus(corpusChars ? text.slice(0, corpusChars) : text);
    this.model = new CharTransformer(this.be, config, (block, o) => {
      const comm = { device: ctx.device, devices: ctx.devices, collectives: ctx.collectives, replicas: () => this.args.replicas[block]! };
      const layer = new DistributedMoELayer(this.be, config.dModel, o, comm);
      this.layers.push(layer);
      return layer;
    });
    this.optimizer = new AdamW(this.be, this.model.parameters(), { lr: this.args.lr, clipNorm: 1, weightDecay: 0.01 });
    this.dataRng = new Rng(config.seed ^ 0x5eed);
  }

  async receive(msg: TrainerMessage, ctx: ActorContext): Promise<StepReport | string | number> {
    if (msg.type === 'placement') return this.place(msg.replicas, ctx);
    if (msg.type === 'state') return this.state(ctx) as never;
    if (msg.type === 'eval') return this.evaluate(msg.batches, ctx);
    if (msg.type === 'load') return this.load(msg.state);
    // Generation runs on every device in lockstep on the same text, so the MoE all-to-alls meet.
    if (msg.type === 'generate') return generate(this.be, this.model, this.corpus, msg.prompt, msg.length, { seed: msg.seed });
    const t0 = performance.now();
    const { batch, steps, lr } = this.args;
    const { seq } = this.args.config;
    const D = ctx.devices, me = ctx.device;
    // Every device draws the same global batch and trains on its slice of the sequences.
    const { inputs, targets } = this.corpus.sample(this.dataRng, batch, seq);
    const per = batch / D;
    const shard = (t: Tensor<'i32'>) => new Tensor('i32', [per * seq], t.data.slice(me * per * seq, (me + 1) * per * seq));
    const loss = new CrossEntropyLoss(this.be);
    const logits = await this.model.forward(shard(inputs), per);
    const localMean = await loss.forward(logits, shard(targets), `step ${msg.step} loss on device ${me}`);
    this.layers.forEach((l, i) => {
      const a = l.auxLoss();
      if (!Number.isFinite(a)) throw errors.nonFinite(`step ${msg.step}, MoE layer ${i} router loss on device ${me}`, a);
    });
    await this.model.backward(await loss.backward(1 / (batch * seq)));
    const norm = await syncGradients(ctx.collectives, me, this.denseParams(), this.expertGroups());
    const warmup = Math.max(1, Math.floor(steps / 20));
    await this.optimizer.update(learningRate(msg.step, steps, lr, warmup), { gradNorm: norm });
    const lossSum = await ctx.collectives.allReduce(Tensor.from([localMean * loss.count]) as F32);
    return {
      step: msg.step,
      loss: lossSum.data[0]! / (batch * seq),
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

  /** Mean held-out loss over fixed windows (the same every call), each device on its shard. */
  private async evaluate(batches: number, ctx: ActorContext): Promise<number> {
    const { batch, config } = this.args;
    const rng = new Rng(config.seed ^ 0xe7a1);
    const per = batch / ctx.devices, me = ctx.device, seq = config.seq;
    const loss = new CrossEntropyLoss(this.be);
    let sum = 0;
    for (let i = 0; i < batches; i++) {
      const { inputs, targets } = this.corpus.sample(rng, batch, seq, 'eval');
      const shard = (t: Tensor<'i32'>) => new Tensor('i32', [per * seq], t.data.slice(me * per * seq, (me + 1) * per * seq));
      sum += (await loss.forward(await this.model.forward(shard(inputs), per), shard(targets), 'eval loss')) * loss.count;
    }
    const total = await ctx.collectives.allReduce(Tensor.from([sum]) as F32);
    return total.data[0]! / (batches * batch * seq);
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
    this.optimizer.restore({ step: state.optimizerStep, moments: this.optimizer.snapshot().moments });
    this.dataRng.position = state.dataRng;
    return loaded;
  }

  /**
   * Switches to a new placement at a step boundary (this message is handled between two steps on
   * every device). A device gaining a replica receives the expert's parameters and Adam moments from
   * the lowest-numbered current holder, by broadcast; every device walks layers and experts in the
   * same order, so the broadcasts pair up. Returns the bytes this device received.
   */
  private async place(next: number[][][], ctx: ActorContext): Promise<number> {
    const me = ctx.device;
    let received = 0;
    for (let l = 0; l < this.layers.length; l++) {
      for (let e = 0; e < next[l]!.length; e++) {
        const before = this.args.replicas[l]![e]!, after = next[l]![e]!;
        const gaining = after.filter((d) => !before.includes(d));
        if (!gaining.length) continue;
        const source = Math.min(...before);
        const group = [source, ...gaining];
        if (!group.includes(me)) continue;
        const params = this.layers[l]!.experts[e]!.parameters();
        const parts = params.flatMap((p) => {
          const mv = this.optimizer.moments(p);
          return [p.value, mv.m, mv.v];
        });
        const n = parts.reduce((a, t) => a + t.size, 0);
        let flat: F32 | null = null;
        if (me === source) {
          flat = Tensor.zeros([n]) as F32;
          let at = 0;
          for (const t of parts) {
            flat.data.set(t.data, at);
            at += t.size;
          }
        }
        const got = await ctx.collectives.broadcast(flat, source, group);
        if (me !== source) {
          let at = 0;
          for (const t of parts) {
            t.data.set(got.data.subarray(at, at + t.size));
            at += t.size;
          }
          received += got.data.byteLength;
        }
      }
    }
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
