import { totalmem } from 'node:os';
import { errors } from '../errors.js';
import { CharCorpus, mobyDick } from '../data/corpus.js';
import type { CharTransformerConfig } from '../models/char-transformer.js';
import { knownTasks } from '../models/tasks.js';
import type { VisionMoEConfig } from '../models/vision-moe.js';
import { moduleUrls } from '../runtime/thread.js';
import { parseWorkload } from '../sched/workload.js';
import { intFlag, numberFlag, type Flags } from './args.js';
import { importUserModule } from '../runtime/modules.js';

export const builtInModels = ['gpt-moe', 'bert-moe', 'vision-moe', 'dense'] as const;

/** A model chosen by the command-line flags `train` and `compare` share. */
export interface FlagModel {
  /** gpt-moe, bert-moe, vision-moe, dense, or a model of your own. */
  model: string;
  /** Modules that register models of your own (file URLs), already imported here. */
  modules: string[];
  /** Whether `model` is one of your own (registerTask). */
  own: boolean;
  /** The character models' config (also the base of the vision model's). */
  text: CharTransformerConfig;
  /** The config of `model` itself. */
  config: CharTransformerConfig | VisionMoEConfig;
  batch: number;
  lr: number;
}

/** `--routing SPEC`: the gates route by a synthetic workload (GateOptions.routing), checked here. */
function routingFlag(flags: Flags): { routing?: string } {
  if (flags.routing === undefined) return {};
  if (typeof flags.routing !== 'string') throw errors.badArgument('--routing', 'expects a workload, e.g. zipf:1.5,drift');
  parseWorkload(flags.routing, '--routing');
  return { routing: flags.routing };
}

/** Reads the model flags (`--model`, `--module`, sizes, MoE options); unknown models are named with the known ones. */
export async function modelFromFlags(flags: Flags): Promise<FlagModel> {
  const model = typeof flags.model === 'string' ? flags.model : 'gpt-moe';
  const modules = typeof flags.module === 'string' ? moduleUrls([flags.module]) : [];
  for (const m of modules) await importUserModule(m);
  const own = knownTasks().filter((t) => !(builtInModels as readonly string[]).includes(t));
  if (!(builtInModels as readonly string[]).includes(model) && !own.includes(model)) {
    throw errors.badArgument('--model', `unknown model "${model}"; known: ${[...builtInModels, ...own].join(', ')}${modules.length ? '' : ' (models of your own: --module FILE)'}`);
  }
  const corpus = new CharCorpus(mobyDick());
  const dModel = intFlag(flags, 'd-model', 64, 4);
  const text: CharTransformerConfig = {
    vocab: corpus.vocab.size,
    seq: intFlag(flags, 'seq', 32, 2),
    dModel,
    heads: intFlag(flags, 'heads', 4, 1),
    dFF: model === 'dense' ? 4 * dModel : intFlag(flags, 'd-ff', 2 * dModel, 1),
    layers: intFlag(flags, 'layers', 2, 1),
    seed: intFlag(flags, 'seed', 1),
    moe: model !== 'dense'
      ? { experts: intFlag(flags, 'experts', 4, 1), topk: intFlag(flags, 'topk', 2, 1) as 1 | 2, capacityFactor: numberFlag(flags, 'capacity-factor', 0), routerSkew: numberFlag(flags, 'router-skew', 0), auxCoef: 0.01, ...routingFlag(flags) }
      : undefined,
  };
  if (dModel % text.heads !== 0) throw errors.badArgument('--heads', `--d-model ${dModel} does not split into ${text.heads} heads (it must be a multiple of --heads)`);
  if (text.moe && text.moe.topk > text.moe.experts) throw errors.badArgument('--topk', `top-${text.moe.topk} needs at least ${text.moe.topk} experts (--experts ${text.moe.experts})`);
  let config: CharTransformerConfig | VisionMoEConfig = text;
  if (model === 'bert-moe') config = { ...text, vocab: text.vocab + 1 }; // the mask character
  if (model === 'vision-moe') config = { patch: intFlag(flags, 'patch', 4, 1), dModel: text.dModel, heads: text.heads, dFF: text.dFF, layers: text.layers, classes: 10, seed: text.seed, moe: text.moe! };
  const lr = numberFlag(flags, 'lr', model === 'vision-moe' ? 1e-2 : 8e-3);
  const batch = intFlag(flags, 'batch', 16, 1);
  checkMemory(text, batch);
  return { model, modules, own: own.includes(model), text, config, batch, lr };
}

/**
 * Refuses sizes whose training state cannot fit, before anything is allocated: parameters with
 * their gradients and Adam moments (4 floats each), and a step's activations (a rough 24 floats
 * per token, layer and width, with the attention scores).
 */
function checkMemory(c: CharTransformerConfig, batch: number): void {
  const d = c.dModel, f = c.dFF, E = c.moe?.experts ?? 1;
  const perLayer = 4 * d * d + 4 * d + (c.moe ? E * (2 * d * f + d + f) + d * E : 2 * d * f + d + f) + 4 * d;
  const params = (c.vocab + c.seq) * d + c.layers * perLayer + d * c.vocab + 2 * d;
  const tokens = batch * c.seq;
  const activations = c.layers * tokens * (24 * d + 2 * c.heads * c.seq) + tokens * c.vocab * 3;
  const bytes = (4 * params + activations) * 4;
  const limit = Math.min(8 * 2 ** 30, totalmem() / 2);
  if (bytes > limit) {
    throw errors.badArgument('model size', `--d-model ${d}, --d-ff ${f}, --layers ${c.layers}, --experts ${E}, --seq ${c.seq}, --batch ${batch} need about ${(bytes / 2 ** 30).toFixed(1)} GiB (parameters, gradients, Adam moments and a step's activations); the limit here is ${(limit / 2 ** 30).toFixed(1)} GiB`);
  }
}
