import type { Backend } from '../kernels/backend.js';
import type { CharCorpus } from '../data/corpus.js';
import { CharTransformer } from '../models/char-transformer.js';
import { MoELayer } from '../moe/moe-layer.js';
import { AdamW } from '../nn/adamw.js';
import { CrossEntropyLoss } from '../nn/loss.js';
import { valueAndGrads } from '../autograd/grad.js';
import { Arena } from '../tensor/arena.js';
import { Rng } from '../nn/random.js';
import { Tensor } from '../tensor/tensor.js';
import { learningRate } from './schedule.js';
import { errors } from '../errors.js';
import { untaped } from '../autograd/tape.js';

export interface LMTrainOptions {
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  warmup?: number;
  clipNorm?: number;
  /** Evaluate on held-out text every this many steps (0: only at the end). */
  evalEvery?: number;
  evalBatches?: number;
  onStep?: (s: StepStats) => void;
}

export interface StepStats {
  step: number;
  /** Cross-entropy of the batch (auxiliary router losses not included). */
  loss: number;
  /** Sum of the routers' auxiliary losses (0 for a dense model). */
  auxLoss: number;
  /** Assignments dropped by capacity, over all MoE layers. */
  droppedTokens: number;
  /** Per MoE layer: assignments per expert this step. */
  expertCounts: Float64Array[];
  lr: number;
  gradNorm: number;
  tokensPerSec: number;
  stepMs: number;
  evalLoss?: number;
}

/** Trains a character transformer on a corpus: seeded data order, AdamW, warm-up + cosine schedule. */
export async function trainCharLM(be: Backend, model: CharTransformer, corpus: CharCorpus, opts: LMTrainOptions): Promise<{ history: StepStats[]; evalLoss: number }> {
  const { seq } = model.config;
  const optimizer = new AdamW(be, model.parameters(), { lr: opts.lr, clipNorm: opts.clipNorm ?? 1, weightDecay: 0.01 });
  const loss = new CrossEntropyLoss(be);
  const dataRng = new Rng(opts.seed ^ 0x5eed);
  const history: StepStats[] = [];
  const warmup = opts.warmup ?? Math.max(1, Math.floor(opts.steps / 20));
  const arena = new Arena(); // each step's scratch tensors, recycled (tensor/arena.ts)
  for (let step = 0; step < opts.steps; step++) {
    const stats = await arena.use(() => trainStep(step));
    if (opts.evalEvery && (step + 1) % opts.evalEvery === 0) stats.evalLoss = await evaluate(be, model, corpus, opts.evalBatches ?? 4, opts.batch, opts.seed);
    history.push(stats);
    opts.onStep?.(stats);
  }
  return { history, evalLoss: await evaluate(be, model, corpus, opts.evalBatches ?? 4, opts.batch, opts.seed) };

  async function trainStep(step: number): Promise<StepStats> {
    const t0 = performance.now();
    const { inputs, targets } = corpus.sample(dataRng, opts.batch, seq);
    // Gates that route by a workload route by this step's (GateOptions.routing).
    for (const l of model.moeLayers()) if (l instanceof MoELayer) l.gate.routingStep = step;
    const layers = model.moeLayers();
    const value = await valueAndGrads(be, model.parameters(), async () => {
      await loss.forward(await model.forward(inputs, opts.batch), targets, `step ${step} loss`);
      layers.forEach((l, i) => {
        const a = l.auxLoss();
        if (!Number.isFinite(a)) throw errors.nonFinite(`step ${step}, MoE layer ${i} router loss`, a);
      });
      return loss.tensor;
    });
    const lr = learningRate(step, opts.steps, opts.lr, warmup);
    await optimizer.update(lr);
    const stepMs = performance.now() - t0;
    return {
      step, loss: value, lr, gradNorm: optimizer.lastGradNorm, stepMs, tokensPerSec: (opts.batch * seq * 1000) / stepMs,
      auxLoss: model.auxLoss(),
      droppedTokens: layers.reduce((n, l) => n + (l.lastRouting?.dropped ?? 0), 0),
      expertCounts: layers.map((l) => Float64Array.from(l.lastRouting?.counts ?? [])),
    };
  }
}

/** Mean loss over fixed held-out windows (the same ones every call, so evaluations compare). */
export async function evaluate(be: Backend, model: CharTransformer, corpus: CharCorpus, batches: number, batch: number, seed: number): Promise<number> {
  const rng = new Rng(seed ^ 0xe7a1);
  const loss = new CrossEntropyLoss(be);
  let sum = 0;
  for (let i = 0; i < batches; i++) {
    const { inputs, targets } = corpus.sample(rng, batch, model.config.seq, 'eval');
    sum += await loss.forward(await untaped(() => model.forward(inputs, batch)), targets, 'eval loss');
  }
  return sum / batches;
}

/**
 * Samples `length` characters after `prompt`. The context sits at the start of a full-length
 * window (causal attention never looks right), so every call reuses the training shapes.
 */
export async function generate(be: Backend, model: CharTransformer, corpus: CharCorpus, prompt: string, length: number, opts: { temperature?: number; seed?: number } = {}): Promise<string> {
  const { seq } = model.config;
  const rng = new Rng(opts.seed ?? 1);
  const temperature = opts.temperature ?? 0.8;
  const ids = Array.from(corpus.vocab.encode(prompt).data);
  const window = Tensor.zeros([seq], 'i32');
  for (let n = 0; n < length; n++) {
    const ctx = ids.slice(-seq);
    window.data.fill(0);
    window.data.set(ctx);
    // Only the last context position's logits are read: the last block and the head run on it alone.
    const probs = await be.ops.softmax(await be.ops.scale(await untaped(() => model.forwardAt(window, 1, [ctx.length - 1])), 1 / temperature));
    ids.push(rng.categorical(probs.data));
  }
  return corpus.vocab.decode(ids.slice(-length));
}
