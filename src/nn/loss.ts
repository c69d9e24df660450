import type { Backend } from '../kernels/backend.js';
import type { F32, I32 } from '../tensor/tensor.js';
import * as ad from '../autograd/ops.js';

/**
 * Mean cross-entropy over the rows whose target is ≥ 0 (a negative target marks a position to
 * ignore, as masked language models need). A NaN or Inf loss is an error naming where it arose.
 * Forward only: under a tape (`valueAndGrads`) its gradient comes from `ad.crossEntropy`, which
 * this calls; `tensor` is the last loss as the [1] tensor a tape differentiates.
 */
export class CrossEntropyLoss {
  private last: { loss: F32; count: number } | null = null;

  constructor(private readonly be: Backend) {}

  /** The mean loss; `scale` replaces 1/count in its gradient (devices sharing a batch scale by the global count). */
  async forward(logits: F32, targets: I32, where = 'loss', scale?: number): Promise<number> {
    this.last = await ad.crossEntropy(this.be, logits, targets, { scale, where });
    return this.last.loss.data[0]!;
  }

  /** Rows counted in the last forward (targets ≥ 0). */
  get count(): number {
    return this.last?.count ?? 0;
  }

  /** The last forward's loss as a [1] tensor. */
  get tensor(): F32 {
    if (!this.last) throw new Error('CrossEntropyLoss.tensor: no forward yet');
    return this.last.loss;
  }
}
