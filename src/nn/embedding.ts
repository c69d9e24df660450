import type { Backend } from '../kernels/backend.js';
import type { F32, I32 } from '../tensor/tensor.js';
import { normalInit, Parameter, type InitOptions } from './parameter.js';

/** A lookup table [vocab, dim]; backward scatter-adds into the rows that were read. */
export class Embedding {
  readonly table: Parameter;
  private ids: I32 | null = null;

  constructor(private readonly be: Backend, readonly vocab: number, readonly dim: number, opts: InitOptions & { name?: string; std?: number }) {
    this.table = new Parameter(`${opts.name ?? 'embedding'}.table`, normalInit([vocab, dim], opts.std ?? 0.02, opts));
  }

  async forward(ids: I32): Promise<F32> {
    this.ids = ids;
    return this.be.ops.embedding(this.table.value, ids);
  }

  /** Embeddings are leaves: there is no input gradient to return. */
  async backward(dy: F32): Promise<void> {
    const { ops } = this.be;
    this.table.accumulate(await ops.embeddingBackward(this.ids!, dy, this.vocab));
  }

  parameters(): Parameter[] {
    return [this.table];
  }
}
