import { CharCorpus, mobyDick } from '../../src/data/corpus.js';
import type { CharTransformerConfig } from '../../src/models/char-transformer.js';

/**
 * The small GPT-MoE the distributed tests train (4 experts, top-2, d 32) on the first `chars`
 * characters of the corpus, and the run options they share.
 */
export function smallRun(chars: number, o: { layers?: number; seed?: number } = {}) {
  const corpus = new CharCorpus(mobyDick().slice(0, chars));
  const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: o.layers ?? 2, seed: o.seed ?? 3, moe: { experts: 4, topk: 2 } };
  return { config, base: { config, steps: 8, batch: 8, lr: 3e-3, corpusChars: chars } };
}
