import { createBackend, defaultBackendName, type Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import { CharVocab } from '../data/chars.js';
import { CharTransformer, type CharTransformerConfig } from '../models/char-transformer.js';
import { Rng } from '../nn/random.js';
import { Tensor } from '../tensor/tensor.js';
import { loadCheckpoint } from '../train/checkpoint.js';

export interface ServeOptions {
  backend?: string;
  /** Requests run together in one forward pass, at most this many … */
  maxBatch?: number;
  /** … waiting at most this long for company (ms). */
  maxWaitMs?: number;
  /** Requests waiting beyond this are refused with an "overloaded" error (backpressure, bounded memory). */
  maxQueue?: number;
}

export interface GenerateOptions {
  maxTokens?: number;
  temperature?: number;
  seed?: number;
}

interface Request {
  ids: number[];
  remaining: number;
  temperature: number;
  rng: Rng;
  out: number[];
  resolve: (text: string) => void;
  reject: (e: Error) => void;
}

/**
 * A trained language model, served: concurrent `generate` calls are micro-batched (up to `maxBatch`
 * requests, waiting at most `maxWaitMs`), each request keeps its own seeded sampler, and a full
 * queue refuses new work at once. Every row of a batch is computed independently (no capacity
 * dropping at inference), so batched answers equal unbatched ones for the same seed.
 *
 * @example
 * const model = await loadModel('run.ckpt');
 * const text = await model.generate('Call me Ishmael. ', { maxTokens: 40, seed: 1 });
 * await model.close();
 */
export class ServedModel {
  private readonly queue: Request[] = [];
  private running: Promise<void> | null = null;
  private closed = false;
  readonly options: Required<ServeOptions>;

  constructor(private readonly be: Backend, readonly net: CharTransformer, readonly vocab: CharVocab, opts: ServeOptions = {}) {
    this.options = { backend: be.name, maxBatch: 8, maxWaitMs: 5, maxQueue: 64, ...opts };
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  /** Generates `maxTokens` characters after `prompt`. */
  generate(prompt: string, opts: GenerateOptions = {}): Promise<string> {
    if (this.closed) return Promise.reject(errors.badArgument('generate', 'the model is closed'));
    if (!prompt.length) return Promise.reject(errors.badArgument('generate', 'the prompt is empty'));
    let ids: number[];
    try {
      ids = Array.from(this.vocab.encode(prompt).data);
    } catch (e) {
      return Promise.reject(e);
    }
    const maxTokens = opts.maxTokens ?? 32;
    if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 4096) return Promise.reject(errors.badArgument('generate', `maxTokens must be an integer in [1, 4096], got ${maxTokens}`));
    if (this.queue.length >= this.options.maxQueue) return Promise.reject(errors.badArgument('overloaded', `${this.queue.length} requests are waiting (limit ${this.options.maxQueue}); try again later`));
    return new Promise((resolve, reject) => {
      this.queue.push({ ids, remaining: maxTokens, temperature: opts.temperature ?? 0.8, rng: new Rng(opts.seed ?? 1), out: [], resolve, reject });
      this.running ??= this.drain().finally(() => (this.running = null));
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      if (this.queue.length < this.options.maxBatch) await new Promise((r) => setTimeout(r, this.options.maxWaitMs));
      const batch = this.queue.splice(0, this.options.maxBatch);
      try {
        await this.run(batch);
      } catch (e) {
        for (const r of batch) r.reject(e as Error);
      }
    }
  }

  /** One batch to completion: each step a forward over every unfinished request's window. */
  private async run(batch: Request[]): Promise<void> {
    const { seq, vocab } = this.net.config;
    let active = batch;
    while (active.length) {
      const window = Tensor.zeros([active.length * seq], 'i32');
      active.forEach((r, b) => window.data.set(r.ids.slice(-seq), b * seq));
      const logits = await this.net.forward(window, active.length);
      for (const [b, r] of active.entries()) {
        const pos = Math.min(r.ids.length, seq) - 1;
        const row = logits.data.subarray((b * seq + pos) * vocab, (b * seq + pos + 1) * vocab);
        const next = sample(row, r.temperature, r.rng);
        r.ids.push(next);
        r.out.push(next);
        r.remaining--;
      }
      for (const r of active) if (r.remaining === 0) r.resolve(this.vocab.decode(r.out));
      active = active.filter((r) => r.remaining > 0);
    }
  }

  /** Finishes the work already accepted, then releases the backend. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await this.running;
    this.be.dispose();
  }
}

function sample(logits: Float32Array, temperature: number, rng: Rng): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const w = Array.from(logits, (v) => Math.exp((v - max) / Math.max(1e-6, temperature)));
  return rng.categorical(w);
}

/** Loads a GPT-MoE checkpoint for inference (parameters only; no optimizer state). */
export async function loadModel(path: string, opts: ServeOptions = {}): Promise<ServedModel> {
  const ckpt = loadCheckpoint(path);
  const task = (ckpt.meta.task as string | undefined) ?? 'gpt-moe';
  if (task !== 'gpt-moe') throw errors.checkpoint(path, `holds ${task}; loadModel serves gpt-moe language models so far`);
  const chars = ckpt.meta.vocab as string[] | undefined;
  if (!chars) throw errors.checkpoint(path, 'has no vocabulary (written by an older flexmoe); re-save it');
  const config = ckpt.meta.config as CharTransformerConfig;
  // At inference nothing is dropped: capacity off, no router noise.
  const serving: CharTransformerConfig = { ...config, moe: config.moe ? { ...config.moe, capacityFactor: 0, noiseStd: 0 } : undefined };
  const be = await createBackend(opts.backend ?? (await defaultBackendName()));
  const net = new CharTransformer(be, serving);
  for (const p of net.parameters()) {
    const t = ckpt.tensors.get(p.name);
    if (!t) throw errors.checkpoint(path, `lacks parameter ${p.name}`);
    p.value.data.set(t.data);
  }
  return new ServedModel(be, net, new CharVocab(chars), opts);
}
