import type { Backend } from '../kernels/backend.js';
import type { F32, I32 } from '../tensor/tensor.js';
import { normalInit, Parameter, type InitOptions, residentParameter } from './parameter.js';
import * as ad from '../autograd/ops.js';
import { LastPass } from '../autograd/grad.js';

/** A lookup table [vocab, dim]. */
export class Embedding {
  readonly table: Parameter;
  private readonly pass: LastPass;

  constructor(private readonly be: Backend, readonly vocab: number, readonly dim: number, opts: InitOptions & { name?: string; std?: number }) {
    this.table = residentParameter(be, `${opts.name ?? 'embedding'}.table`, normalInit([vocab, dim], opts.std ?? 0.02, opts));
    this.pass = new LastPass(be, 'Embedding');
  }

  async forward(ids: I32): Promise<F32> {
    return this.pass.run([], () => this.parameters(), () => ad.embedding(this.be, this.table.value, ids));
  }

  /** Embeddings are leaves: the table's gradient accumulates, and there is no input gradient. */
  async backward(dy: F32): Promise<void> {
    await this.pass.backward(dy);
  }

  parameters(): Parameter[] {
    return [this.table];
  }
}
