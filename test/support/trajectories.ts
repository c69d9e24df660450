import { createDefaultBackend } from '../../src/kernels/backend.js';
import { CharCorpus, mobyDick } from '../../src/data/corpus.js';
import { CharTransformer, type CharTransformerConfig } from '../../src/models/char-transformer.js';
import type { VisionMoEConfig } from '../../src/models/vision-moe.js';
import { MASK } from '../../src/models/tasks.js';
import { trainCharLM } from '../../src/train/lm.js';
import { trainDistributed } from '../../src/train/distributed.js';

/**
 * The built-in models' 20-step loss trajectories, each run the way users run it: the one-process
 * trainer for the dense and MoE language models, devices (1 and 2) for GPT-MoE, BERT-MoE and the
 * vision MoE. test/fixtures/trajectories.json holds them as recorded from the hand-written backward
 * passes; the autograd tape must reproduce them.
 */
export const chars = 60_000;
const text: CharTransformerConfig = { vocab: 0, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 2, seed: 7 };
const moe = { experts: 4, topk: 2 as const, routerSkew: 1, capacityFactor: 1.25, zCoef: 0.001 };
const vision: VisionMoEConfig = { patch: 7, dModel: 32, heads: 2, dFF: 64, layers: 2, classes: 10, seed: 7, moe: { experts: 4, topk: 1 } };
const steps = 20, batch = 8, lr = 3e-3;

export type Trajectories = Record<string, number[]>;

export async function runTrajectories(): Promise<Trajectories> {
  const corpus = new CharCorpus(mobyDick().slice(0, chars));
  const config = { ...text, vocab: corpus.vocab.size };
  const out: Trajectories = {};
  const be = await createDefaultBackend();
  try {
    for (const [name, c] of [['dense, one process', config], ['gpt-moe, one process', { ...config, moe }]] as const) {
      out[name] = (await trainCharLM(be, new CharTransformer(be, c), corpus, { steps, batch, lr, seed: c.seed })).history.map((s) => s.loss);
    }
  } finally {
    be.dispose();
  }
  const common = { steps, batch, lr, corpusChars: chars };
  out['gpt-moe, 2 devices'] = (await trainDistributed({ ...common, devices: 2, config: { ...config, moe } })).map((s) => s.loss);
  const bertVocab = new CharCorpus(mobyDick().slice(0, chars), 0.05, [MASK]).vocab.size;
  out['bert-moe, 1 device'] = (await trainDistributed({ ...common, task: 'bert-moe', devices: 1, config: { ...config, vocab: bertVocab, moe } })).map((s) => s.loss);
  out['vision-moe, 2 devices'] = (await trainDistributed({ ...common, task: 'vision-moe', devices: 2, config: vision, imagesPerDigit: 20 })).map((s) => s.loss);
  return out;
}
