import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import { IMAGE_PIXELS } from '../data/mnist.js';
import { CharTransformer, type CharTransformerConfig, type RoutedFeedForward } from '../models/char-transformer.js';
import { knownTasks, makeTask, type MakeMoE } from '../models/tasks.js';
import type { MoELayerOptions } from '../moe/moe-layer.js';
import { VisionMoE, type VisionMoEConfig } from '../models/vision-moe.js';
import type { Parameter } from '../nn/parameter.js';
import { checkTensorNames, type LoadedCheckpoint } from '../train/checkpoint.js';
import { Tensor, type F32, type I32 } from '../tensor/tensor.js';
import { untaped } from '../autograd/tape.js';

/** The models a checkpoint can be served as. */
export type ServedKind = 'generate' | 'classify';

/** A model built for inference: one forward over a batch, returning only the logits asked for. */
export interface ServingModel {
  kind: ServedKind;
  /** Inputs per row: the context window (characters) or the pixels of one image. */
  inputWidth: number;
  /** Logits per row: the vocabulary or the classes. */
  outputs: number;
  net: { parameters(): Parameter[]; moeLayers(): RoutedFeedForward[] };
  /** rows × outputs; for a language model, row r's logits at position `pick[r]`. */
  forward(inputs: Int32Array | Float32Array, rows: number, pick?: number[]): Promise<Float32Array>;
}

/** What serving needs to know of a checkpoint's model before building it. */
export interface ModelInfo {
  kind: ServedKind;
  inputWidth: number;
  outputs: number;
  /** MoE layers and experts per layer. */
  moeLayers: number;
  experts: number;
  topk: number;
  dModel: number;
  dFF: number;
}

export function describeModel(path: string, meta: Record<string, unknown>): ModelInfo {
  const task = (meta.task as string | undefined) ?? 'gpt-moe';
  if (task !== 'gpt-moe' && task !== 'vision-moe') return describeComposed(path, task, meta);
  const c = meta.config as (CharTransformerConfig | VisionMoEConfig) & { dModel: number; dFF: number; layers: number };
  if (!c.moe) throw errors.checkpoint(path, 'holds a model without MoE layers');
  const vision = task === 'vision-moe';
  return {
    kind: vision ? 'classify' : 'generate',
    inputWidth: vision ? IMAGE_PIXELS : (c as CharTransformerConfig).seq,
    outputs: vision ? (c as VisionMoEConfig).classes : (c as CharTransformerConfig).vocab,
    moeLayers: c.layers, experts: c.moe.experts, topk: c.moe.topk, dModel: c.dModel, dFF: c.dFF,
  };
}

/**
 * A model of your own (registerTask, its module imported first): built once with stand-in MoE
 * layers to read what its MoE layers are. Language tasks (`languageTask`) generate.
 */
function describeComposed(path: string, task: string, meta: Record<string, unknown>): ModelInfo {
  if (!knownTasks().includes(task)) throw errors.checkpoint(path, `holds the model "${task}", which no loaded module registers (the checkpoint names ${JSON.stringify(meta.modules ?? [])}); known: ${knownTasks().join(', ')}`);
  const t = makeTask({ task, config: meta.config as CharTransformerConfig });
  if (!t.corpus) throw errors.checkpoint(path, `holds ${task}, which is not a language model: flexmoe serves models of your own that generate text (languageTask)`);
  const layers: (MoELayerOptions & { dModel?: number })[] = [];
  const stub = { forward: async (x: F32) => x, backward: async (d: F32) => d, parameters: () => [], lastRouting: null, auxLoss: () => 0 };
  t.build(null as unknown as Backend, (_, o) => (layers.push(o), stub));
  if (!layers.length) throw errors.checkpoint(path, `holds ${task}, a model without MoE layers`);
  const [first] = layers;
  if (layers.some((l) => l.experts !== first!.experts || l.topk !== first!.topk)) throw errors.checkpoint(path, `holds ${task}, whose MoE layers differ in experts or top-k: serving places one expert count per layer`);
  const c = t.config as CharTransformerConfig;
  return { kind: 'generate', inputWidth: c.seq, outputs: c.vocab, moeLayers: layers.length, experts: first!.experts, topk: first!.topk, dModel: c.dModel, dFF: first!.dFF };
}

/**
 * Builds the model a checkpoint describes, configured for serving: no capacity limit (nothing is
 * dropped at inference) and no router noise, so every row's answer depends on that row alone.
 * Parameters are left to the caller (a device loads only the experts it hosts).
 */
/**
 * MoE options a served model overrides: no capacity limit and no router noise, and the gates route
 * by their logits even if the model trained routing by a workload (GateOptions.routing, a benchmark
 * device whose draws depend on a token's place in its batch).
 */
const inference = { capacityFactor: 0, noiseStd: 0, routing: undefined };

export function buildServingModel(be: Backend, path: string, meta: Record<string, unknown>, makeMoE?: MakeMoE): ServingModel {
  const { kind } = describeModel(path, meta);
  const task = (meta.task as string | undefined) ?? 'gpt-moe';
  if (kind === 'classify') {
    const c = meta.config as VisionMoEConfig;
    const net = new VisionMoE(be, { ...c, moe: { ...c.moe, ...inference } }, makeMoE);
    return {
      kind: 'classify', inputWidth: IMAGE_PIXELS, outputs: c.classes, net,
      forward: async (pixels, rows) => (await untaped(() => net.forward(new Tensor('f32', [rows, IMAGE_PIXELS], pixels as Float32Array) as F32, rows))).data,
    };
  }
  if (task !== 'gpt-moe') {
    const c = meta.config as CharTransformerConfig;
    const net = makeTask({ task, config: { ...c, moe: c.moe ? { ...c.moe, ...inference } : undefined } as CharTransformerConfig }).build(be, makeMoE);
    const V = c.vocab;
    return {
      kind: 'generate', inputWidth: c.seq, outputs: V, net,
      // A model of your own has no forwardAt: the whole window runs, and the picked rows are read.
      forward: async (ids, rows, pick) => {
        const logits = await untaped(() => net.forward(new Tensor('i32', [rows * c.seq], ids as Int32Array) as I32, rows));
        const out = new Float32Array(rows * V);
        for (let r = 0; r < rows; r++) {
          const at = (r * c.seq + (pick?.[r] ?? c.seq - 1)) * V;
          out.set(logits.data.subarray(at, at + V), r * V);
        }
        return out;
      },
    };
  }
  const c = meta.config as CharTransformerConfig;
  const net = new CharTransformer(be, { ...c, moe: c.moe ? { ...c.moe, ...inference } : undefined }, makeMoE);
  return {
    kind: 'generate', inputWidth: c.seq, outputs: c.vocab, net,
    // Sampling reads one position per sequence: the last block and the head run on those rows only.
    forward: async (ids, rows, pick) => (await untaped(() => net.forwardAt(new Tensor('i32', [rows * c.seq], ids as Int32Array) as I32, rows, pick ?? new Array(rows).fill(c.seq - 1)))).data,
  };
}

/**
 * Copies a checkpoint's tensors into the model's parameters, by logical name. Parameters in `absent`
 * (experts a device does not host) are filled with NaN instead: using one by mistake cannot go
 * unnoticed.
 */
export function loadParameters(model: ServingModel, ckpt: LoadedCheckpoint, path: string, absent: ReadonlySet<Parameter> = new Set(), elsewhere?: RegExp): void {
  const params = model.net.parameters();
  // Every parameter there and of its size, nothing else but Adam moments and what other actors
  // load (`elsewhere`: a device server's experts live in expert actors), before anything is set.
  checkTensorNames(path, ckpt.tensors.keys(), params.map((p) => p.name), (name) => /#[mv]$/.test(name) || (elsewhere?.test(name) ?? false));
  for (const p of params) {
    const t = ckpt.tensors.get(p.name)!;
    if (t.data.length !== p.value.size) throw errors.checkpoint(path, `has ${p.name} of shape [${t.shape.join(',')}], this model's is [${p.value.shape.join(',')}]`);
  }
  for (const p of params) {
    if (absent.has(p)) p.value.data.fill(NaN);
    else p.value.data.set(ckpt.tensors.get(p.name)!.data);
  }
}
