import { defaultBackendName } from '../kernels/backend.js';
import { errors } from '../errors.js';
import { CharVocab } from '../data/chars.js';
import { IMAGE_PIXELS } from '../data/mnist.js';
import { Rng } from '../nn/random.js';
import type { CostProfile } from '../sched/cost.js';
import { defaultLivePolicy, isFixedPlacement, isLivePolicy, livePolicies } from '../sched/policies/index.js';
import { moduleUrls } from '../runtime/thread.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { describeModel, type ModelInfo } from './build.js';
import { DeviceEngine } from './device-engine.js';
import type { HostsOptions } from '../hosts/cluster.js';
import type { Engine } from './engine.js';
import { LocalEngine } from './local-engine.js';
import { ServeStats } from './stats.js';
import { padRight, sample, softmaxAnswer } from './sampling.js';

export interface ServeOptions {
  backend?: string;
  /** Worker-thread devices to spread the experts over (1: everything in the calling thread). */
  devices?: number;
  /**
   * Placement policy on live traffic, with devices ≥ 2: static-unpadded (the default: never moves,
   * each expert computes its own rows), static (never moves, DeepSpeed's padded buffers), flexmoe or eplb
   * (re-plan between passes), fastermoe (shadows hot experts within each pass), flexmoe-react (both),
   * or a policy of your own (`registerPolicy` in one of `modules`; it re-plans between passes).
   */
  policy?: string;
  /** Modules the devices load first: those that register policies of your own (`registerPolicy`). */
  modules?: (string | URL)[];
  /** Cost profile the policy plans with (default: measured on this machine at load). */
  profile?: CostProfile;
  /** Expert slots per device (devices ≥ 2). */
  slots?: number;
  /**
   * The scheduler sees the routing summed over passes of at least this many milliseconds (default
   * 50; 0: every pass). A serving pass is small: planning after each one would cost the device the
   * scheduler runs on a share of every pass, and plan from a handful of tokens.
   */
  loadWindowMs?: number;
  /** Rows (sequences or images) computed together in one forward pass, at most … */
  maxBatch?: number;
  /** … waiting at most this long for company when nothing is running (ms). */
  maxWaitMs?: number;
  /** Requests waiting beyond this are refused at once with an "overloaded" error (bounded memory). */
  maxQueue?: number;
  /** Images per classify call, at most. */
  maxImages?: number;
  /** Serve on devices of other machines, joined through NATS (docs/hosts.md); `devices` is then what they offer together. */
  hosts?: HostsOptions;
}

export interface GenerateOptions {
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  /** Stops the generation: it leaves its batch slot at the next pass and its promise rejects (E_ABORTED). */
  signal?: AbortSignal;
}

/** The largest pixel magnitude classify takes. */
const MAX_PIXEL = 1e4;

/** A request in flight: rows it still needs computed, and what to do with each row's logits. */
interface Job {
  /** Rows to put in the next pass (inputs of `width` each, and the position to read for language models). */
  next(max: number): { inputs: ArrayLike<number>[]; pick: number[] };
  /** Takes the logits of the rows `next` gave; true when the request is complete. */
  take(logits: Float32Array[]): boolean;
  reject(e: Error): void;
  /** Why it must stop before its next pass (an abort), or null to go on. */
  stopped?(): Error | null;
}

/**
 * A trained model, served. Concurrent calls are batched per forward pass (continuous batching: a
 * generation joins the running batch at the next pass instead of waiting for it to finish, up to
 * `maxBatch` rows), each generation keeps its own seeded sampler, and a full queue refuses new work
 * at once. Every row is computed independently (no capacity dropping at inference), so batched
 * answers equal unbatched ones, whatever the devices and the placement.
 *
 * @example
 * const model = await loadModel('run.ckpt', { devices: 2, policy: 'flexmoe' });
 * const text = await model.generate('Call me Ishmael. ', { maxTokens: 40, seed: 1 });
 * await model.close();
 */
export class ServedModel {
  private readonly queue: Job[] = [];
  private active: Job[] = [];
  private running: Promise<void> | null = null;
  private closed = false;
  /** The batching limits in force (defaults filled in). */
  readonly options: Required<Pick<ServeOptions, 'maxBatch' | 'maxWaitMs' | 'maxQueue' | 'maxImages'>>;
  readonly stats: ServeStats;

  constructor(readonly engine: Engine, readonly info: ModelInfo, readonly vocab: CharVocab | null, opts: ServeOptions = {}) {
    this.options = batchingLimits(opts);
    this.stats = new ServeStats(info, engine);
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  get events$() {
    return this.engine.events$;
  }

  /** Generates `maxTokens` characters after `prompt` (language models). */
  generate(prompt: string, opts: GenerateOptions = {}): Promise<string> {
    return this.submit<string>('generate', (resolve, reject) => this.generation(prompt, opts, () => {}, resolve, reject));
  }

  /**
   * The same generation as `generate` (the same text for the same seed), yielded a character at a
   * time as each pass samples it. Breaking out of the loop, or `opts.signal`, stops it and frees
   * its batch slot.
   *
   * ```ts
   * for await (const ch of model.generateStream('Call me ', { maxTokens: 40 })) process.stdout.write(ch);
   * ```
   */
  async *generateStream(prompt: string, opts: GenerateOptions = {}): AsyncGenerator<string, void, undefined> {
    const stop = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
    const pending: string[] = [];
    let wake: (() => void) | null = null, finished = false, failure: Error | null = null;
    const poke = () => (wake?.(), (wake = null));
    const done = this.submit<string>('generate', (resolve, reject) => this.generation(prompt, { ...opts, signal }, (ch) => (pending.push(ch), poke()), resolve, reject));
    done.then(() => ((finished = true), poke()), (e: Error) => ((failure = e), poke()));
    try {
      for (;;) {
        while (pending.length) yield pending.shift()!;
        if (failure) throw failure;
        if (finished) return;
        await new Promise<void>((r) => (wake = r));
      }
    } finally {
      // The consumer stopped early (break, return, throw): the generation stops too.
      if (!finished && !failure) stop.abort();
      await done.catch(() => {});
    }
  }

  private generation(prompt: string, opts: GenerateOptions, onToken: (ch: string) => void, resolve: (text: string) => void, reject: (e: Error) => void): Job {
    if (!this.vocab) throw errors.badArgument('generate', 'this model classifies images; use classify');
    if (typeof prompt !== 'string' || !prompt.length) throw errors.badArgument('generate', 'the prompt is empty');
    const ids = Array.from(this.vocab.encode(prompt).data);
    const maxTokens = opts.maxTokens ?? 32, temperature = opts.temperature ?? 0.8;
    if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 4096) throw errors.badArgument('generate', `maxTokens must be an integer in [1, 4096], got ${maxTokens}`);
    if (!(temperature >= 0) || temperature > 100) throw errors.badArgument('generate', `temperature must be in [0, 100], got ${temperature}`);
    const rng = new Rng(opts.seed ?? 1), seq = this.info.inputWidth, out: number[] = [];
    const vocab = this.vocab;
    return {
      next: () => ({ inputs: [padRight(ids.slice(-seq), seq)], pick: [Math.min(ids.length, seq) - 1] }),
      take: ([row]) => {
        const id = sample(row!, temperature, rng);
        ids.push(id);
        out.push(id);
        onToken(vocab.decode([id]));
        if (out.length < maxTokens) return false;
        resolve(vocab.decode(out));
        return true;
      },
      reject,
      stopped: () => (opts.signal?.aborted ? errors.aborted('generate', out.length) : null),
    };
  }

  /**
   * Classifies 28×28 grey images (vision models): each image a flat array of 784 numbers in [0, 1].
   * Answers, per image, the most likely class and every class's probability.
   */
  classify(images: ArrayLike<number>[]): Promise<{ label: number; probabilities: number[] }[]> {
    return this.submit('classify', (resolve, reject) => {
      if (this.info.kind !== 'classify') throw errors.badArgument('classify', 'this model generates text; use generate');
      if (!Array.isArray(images) || !images.length) throw errors.badArgument('classify', 'no images');
      if (images.length > this.options.maxImages) throw errors.badArgument('classify', `${images.length} images in one call (limit ${this.options.maxImages})`);
      images.forEach((img, i) => {
        if (img?.length !== IMAGE_PIXELS) throw errors.badArgument('classify', `image ${i} has ${img?.length ?? 0} pixels, expected ${IMAGE_PIXELS} (28×28)`);
        for (let p = 0; p < IMAGE_PIXELS; p++) {
          const v = img[p]!;
          if (!Number.isFinite(v)) throw errors.badArgument('classify', `image ${i}, pixel ${p} is ${v}, not a finite number`);
          // Grey levels are in [0, 1]; values far outside overflow float32 inside the model.
          if (Math.abs(v) > MAX_PIXEL) throw errors.badArgument('classify', `image ${i}, pixel ${p} is ${v}, outside [−${MAX_PIXEL}, ${MAX_PIXEL}] (grey levels are in [0, 1])`);
        }
      });
      const answers: { label: number; probabilities: number[] }[] = [];
      let given = 0;
      return {
        next: (max) => {
          const part = images.slice(given, given + max);
          given += part.length;
          return { inputs: part, pick: part.map(() => 0) };
        },
        take: (rows) => {
          for (const row of rows) answers.push(softmaxAnswer(row));
          if (answers.length < images.length) return false;
          resolve(answers);
          return true;
        },
        reject,
      };
    });
  }

  private submit<T>(op: string, make: (resolve: (v: T) => void, reject: (e: Error) => void) => Job): Promise<T> {
    if (this.closed) return Promise.reject(errors.modelClosed(op));
    if (this.queue.length >= this.options.maxQueue) {
      this.stats.overloaded++;
      return Promise.reject(errors.overloaded(this.queue.length, this.options.maxQueue));
    }
    return new Promise<T>((resolve, reject) => {
      const job = make((v) => (this.stats.done(op), resolve(v)), (e) => (this.stats.failed(op), reject(e)));
      this.queue.push(job);
      this.kick();
    });
  }

  /** Starts the batching loop unless it runs; a request queued while it was winding down restarts it. */
  private kick(): void {
    this.running ??= this.loop().finally(() => {
      this.running = null;
      if (this.queue.length) this.kick();
    });
  }

  /** One forward pass per turn over the active requests' rows, topped up from the queue. */
  private async loop(): Promise<void> {
    const { maxBatch, maxWaitMs } = this.options;
    while (this.queue.length || this.active.length) {
      if (!this.active.length && this.queue.length < maxBatch) await new Promise((r) => setTimeout(r, maxWaitMs));
      const parts: { job: Job; inputs: ArrayLike<number>[]; pick: number[] }[] = [];
      let rows = 0;
      const take = (job: Job) => {
        const p = job.next(maxBatch - rows);
        rows += p.inputs.length;
        parts.push({ job, ...p });
      };
      this.dropStopped();
      for (const job of this.active) if (rows < maxBatch) take(job);
      while (rows < maxBatch && this.queue.length) {
        const job = this.queue.shift()!;
        this.active.push(job);
        take(job);
      }
      if (!rows) continue;
      try {
        await this.pass(parts, rows);
      } catch (e) {
        // The pass failed (a device crashed): every request in it fails; queued ones wait for recovery.
        const failed = new Set(parts.map((p) => p.job));
        for (const job of failed) job.reject(e as Error);
        this.active = this.active.filter((j) => !failed.has(j));
      }
      // Between passes the event loop runs (a pass in this thread never yields by itself), so new
      // requests are accepted and join the next pass, and health checks get answered.
      if (this.active.length) await new Promise((r) => setImmediate(r));
    }
  }

  /** Requests stopped since the last pass (aborted) leave the queue and the batch, and fail. */
  private dropStopped(): void {
    const keep = (job: Job) => {
      const why = job.stopped?.();
      if (why) job.reject(why);
      return !why;
    };
    this.active = this.active.filter(keep);
    const queued = this.queue.filter(keep);
    this.queue.splice(0, this.queue.length, ...queued);
  }

  private async pass(parts: { job: Job; inputs: ArrayLike<number>[]; pick: number[] }[], rows: number): Promise<void> {
    const w = this.info.inputWidth, out = this.info.outputs;
    const inputs = this.info.kind === 'generate' ? new Int32Array(rows * w) : new Float32Array(rows * w);
    const pick: number[] = [];
    let r = 0;
    for (const p of parts) p.inputs.forEach((row, i) => (inputs.set(row, (r++) * w), pick.push(p.pick[i]!)));
    const t0 = performance.now();
    const placement = this.engine.replicas();
    const result = await this.engine.forward(inputs, rows, pick);
    const { logits } = result;
    this.stats.pass(rows, performance.now() - t0, result, placement, this.queue.length);
    r = 0;
    const finished = new Set<Job>();
    for (const p of parts) {
      const mine = p.inputs.map(() => logits.subarray((r++) * out, r * out));
      // Rows are computed apart: a request whose answer is not finite fails alone.
      const bad = mine.findIndex((row) => row.some((v) => !Number.isFinite(v)));
      if (bad >= 0) {
        p.job.reject(errors.nonFiniteAnswer(`the model's output for this request (row ${bad})`, mine[bad]!.find((v) => !Number.isFinite(v))!));
        finished.add(p.job);
      } else if (p.job.take(mine)) finished.add(p.job);
    }
    this.active = this.active.filter((j) => !finished.has(j));
  }

  /** Finishes the work already accepted, then stops the devices. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await this.running;
    await this.engine.close();
  }
}

/** The batching limits with defaults filled in (`??`: an option passed as undefined keeps its default). */
export function batchingLimits(opts: ServeOptions): ServedModel['options'] {
  const limits = { maxBatch: opts.maxBatch ?? 8, maxWaitMs: opts.maxWaitMs ?? 5, maxQueue: opts.maxQueue ?? 64, maxImages: opts.maxImages ?? 64 };
  const least = { maxBatch: 1, maxWaitMs: 0, maxQueue: 0, maxImages: 1 };
  for (const [k, v] of Object.entries(limits)) {
    const min = least[k as keyof typeof least];
    if (!Number.isInteger(v) || v < min) throw errors.badArgument('loadModel', `${k} must be an integer ≥ ${min}, got ${v}`);
  }
  return limits;
}
