import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import { CharCorpus, mobyDick } from '../data/corpus.js';
import { MnistDigits, IMAGE_PIXELS } from '../data/mnist.js';
import { Tensor, type F32, type I32 } from '../tensor/tensor.js';
import type { Rng } from '../nn/random.js';
import type { InitOptions, Parameter } from '../nn/parameter.js';
import type { MoELayerOptions } from '../moe/moe-layer.js';
import { CharTransformer, type CharTransformerConfig, type RoutedFeedForward } from './char-transformer.js';
import { VisionMoE, type VisionMoEConfig } from './vision-moe.js';

export const taskNames = ['gpt-moe', 'bert-moe', 'vision-moe'] as const;
/** A built-in model, or the name of one added with `registerTask`. */
export type TaskName = (typeof taskNames)[number] | (string & {});

export type MakeMoE = (block: number, opts: MoELayerOptions & InitOptions & { name: string; outStd: number }) => RoutedFeedForward;

/** What a trainer needs of a model: a forward written with autograd ops (trainers differentiate it on a tape). */
export interface TaskModel {
  forward(inputs: Tensor, batch: number): Promise<F32>;
  parameters(): Parameter[];
  moeLayers(): RoutedFeedForward[];
  auxLoss(): number;
}

/**
 * A model and its data, as one unit a trainer on any device can build from plain data: the GPT-MoE
 * language model, the BERT-MoE masked language model (both on Moby-Dick), the vision MoE on MNIST.
 */
export interface Task {
  readonly name: TaskName;
  /** Elements per sample in `inputs` and in `targets` (a batch is split over devices by samples). */
  readonly inputWidth: number;
  readonly targetWidth: number;
  readonly config: CharTransformerConfig | VisionMoEConfig;
  build(be: Backend, makeMoE?: MakeMoE): TaskModel;
  /** A batch drawn with `rng`; every device draws the same one and takes its share. */
  sample(rng: Rng, batch: number, split: 'train' | 'eval'): { inputs: Tensor; targets: I32 };
  /** The text model, for sampling (language tasks only). */
  corpus?: CharCorpus;
  /** Tokens per sample, what tokens/s counts (default: `inputWidth`). */
  readonly tokensPerSample?: number;
}

export interface TaskSpec {
  task: TaskName;
  config: CharTransformerConfig | VisionMoEConfig;
  /** Characters of the corpus to use (text tasks; 0 or absent: all). */
  corpusChars?: number;
  /** Images per digit (vision; absent: all). */
  imagesPerDigit?: number;
}

/** A composed language model's config: the vocabulary (filled in from the corpus) and the context length, beside anything the model takes. */
export interface LanguageConfig {
  vocab: number;
  seq: number;
  dModel: number;
  seed: number;
}

/**
 * A character language model of your own on Moby-Dick, for `registerTask`: `build` makes the model
 * from the config, whose `vocab` is set to the corpus's unless given. The task generates text when served.
 *
 * ```ts
 * registerTask('mixtral', languageTask((be, config, makeMoE) => new Mixtral(be, config, makeMoE)));
 * ```
 */
export function languageTask<C extends LanguageConfig>(build: (be: Backend, config: C, makeMoE?: MakeMoE) => TaskModel): (spec: TaskSpec) => Task {
  return (spec) => {
    const corpus = new CharCorpus(spec.corpusChars ? mobyDick().slice(0, spec.corpusChars) : mobyDick());
    const given = (spec.config as unknown as C).vocab;
    // A vocabulary size given (a checkpoint's, served with its own characters) is kept.
    const config = { ...(spec.config as unknown as C), vocab: given > 0 ? given : corpus.vocab.size };
    return {
      name: spec.task, inputWidth: config.seq, targetWidth: config.seq, config: config as unknown as CharTransformerConfig, corpus,
      build: (be, makeMoE) => build(be, config, makeMoE),
      sample: (rng, batch, split) => corpus.sample(rng, batch, config.seq, split),
    };
  };
}

/** The mask character BERT-MoE puts in place of hidden characters (never in the corpus). */
export const MASK = '\u0000';

// One registry per thread even when this module is loaded twice (a CommonJS and an ES module copy,
// as test runners and bundlers can do): a model registered through one copy is known to the other.
const registered: Map<string, (spec: TaskSpec) => Task> = ((globalThis as Record<symbol, unknown>)[Symbol.for('flexmoe.tasks')] ??= new Map()) as Map<string, (spec: TaskSpec) => Task>;

/**
 * Adds a model of your own. Its `build(be, makeMoE)` gets, on each device, a factory for MoE layers
 * whose gate and experts are actors; call it for every MoE layer, in depth order. Register at
 * module load and list the module in `trainDistributed({ modules })`, so every device knows it.
 * Registering a name again replaces it (a notebook re-running its cell, a module loaded twice).
 */
export function registerTask(name: string, make: (spec: TaskSpec) => Task): void {
  if ((taskNames as readonly string[]).includes(name)) throw errors.badArgument('registerTask', `"${name}" is a built-in model`);
  registered.set(name, make);
}

/** Built-in models, then registered ones. */
export function knownTasks(): string[] {
  return [...taskNames, ...registered.keys()];
}

export function makeTask(spec: TaskSpec): Task {
  const own = registered.get(spec.task);
  if (own) return own(spec);
  if (!(taskNames as readonly string[]).includes(spec.task)) throw errors.badArgument('task', `unknown model "${spec.task}"; known: ${knownTasks().join(', ')}`);
  if (spec.task === 'vision-moe') {
    const config = spec.config as VisionMoEConfig;
    const data = new MnistDigits(0.1, spec.imagesPerDigit);
    return {
      name: 'vision-moe', inputWidth: IMAGE_PIXELS, targetWidth: 1, config, tokensPerSample: (28 / config.patch) ** 2,
      build: (be, makeMoE) => new VisionMoE(be, config, makeMoE),
      sample: (rng, batch, split) => data.sample(rng, batch, split),
    };
  }
  const config = spec.config as CharTransformerConfig;
  const text = mobyDick();
  const chars = spec.corpusChars ? text.slice(0, spec.corpusChars) : text;
  if (spec.task === 'gpt-moe') {
    const corpus = new CharCorpus(chars);
    return {
      name: 'gpt-moe', inputWidth: config.seq, targetWidth: config.seq, config, corpus,
      build: (be, makeMoE) => new CharTransformer(be, config, makeMoE),
      sample: (rng, batch, split) => corpus.sample(rng, batch, config.seq, split),
    };
  }
  const corpus = new CharCorpus(chars, 0.05, [MASK]);
  const mask = corpus.vocab.encode(MASK).data[0]!;
  return {
    name: 'bert-moe', inputWidth: config.seq, targetWidth: config.seq, config: { ...config, causal: false }, corpus,
    build: (be, makeMoE) => new CharTransformer(be, { ...config, causal: false }, makeMoE),
    sample: (rng, batch, split) => maskBatch(corpus.sample(rng, batch, config.seq, split), rng, mask, corpus.vocab.size),
  };
}

/**
 * BERT's masking, on characters: each position is chosen with probability 0.15; a chosen one becomes
 * the mask (80%), a random character (10%) or stays (10%), and only chosen positions are scored.
 * Inputs are the unshifted window (the targets of the causal sample shifted back by one).
 */
function maskBatch(b: { inputs: I32; targets: I32 }, rng: Rng, mask: number, vocab: number): { inputs: I32; targets: I32 } {
  const inputs = b.inputs.clone() as I32, targets = Tensor.zeros(b.inputs.shape, 'i32');
  for (let i = 0; i < inputs.size; i++) {
    if (rng.next() >= 0.15) {
      targets.data[i] = -1;
      continue;
    }
    targets.data[i] = inputs.data[i]!;
    const r = rng.next();
    if (r < 0.8) inputs.data[i] = mask;
    else if (r < 0.9) inputs.data[i] = rng.int(vocab);
  }
  return { inputs, targets };
}
