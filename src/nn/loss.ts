import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import type { F32, I32 } from '../tensor/tensor.js';

/**
 * Mean cross-entropy over the rows whose target is ≥ 0 (a negative target marks a position to
 * ignore, as masked language models need). A NaN or Inf loss is an error naming where it arose.
 */
export class CrossEntropyLoss {
  private saved: { probs: F32; targets: I32; count: number } | null = null;

  constructor(private readonly be: Backend) {}

  async forward(logits: F32, targets: I32, where = 'loss'): Promise<number> {
    const { loss, probs } = await this.be.ops.crossEntropy(logits, targets);
    let sum = 0, count = 0;
    for (let i = 0; i < targets.size; i++) {
      if (targets.data[i]! < 0) continue;
      sum += loss.data[i]!;
      count++;
    }
    this.saved = { probs, targets, count };
    const mean = count === 0 ? 0 : sum / count;
    if (!Number.isFinite(mean)) throw errors.nonFinite(where, mean);
    return mean;
  }

  /** Rows counted in the last forward (targets ≥ 0). */
  get count(): number {
    return this.saved?.count ?? 0;
  }

  /**
   * d(mean loss)/d(logits). `scale` overrides 1/count: with the batch split over devices each
   * device scales by 1/(global count), so the summed gradients are those of the global mean.
   */
  async backward(scale?: number): Promise<F32> {
    const s = this.saved;
    if (!s) throw errors.badArgument('CrossEntropyLoss.backward', 'called before forward');
    return this.be.ops.crossEntropyBackward(s.probs, s.targets, scale ?? (s.count === 0 ? 0 : 1 / s.count));
  }
}
