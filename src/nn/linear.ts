import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import type { F32 } from '../tensor/tensor.js';
import { constantInit, normalInit, Parameter, type InitOptions } from './parameter.js';

export interface LinearOptions extends InitOptions {
  bias?: boolean;
  /** Standard deviation of the weight init; default 1/√in (keeps activations O(1)). */
  std?: number;
}

/**
 * y = x·W + b with W stored [in, out]. Forward keeps x; backward accumulates dW = xᵀ·dy and
 * db = Σ dy, and returns dx = dy·Wᵀ — the three matmul forms of an expert FFN.
 */
export class Linear {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  private input: F32 | null = null;

  constructor(
    private readonly be: Backend,
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions & { name?: string },
  ) {
    const name = opts.name ?? 'linear';
    this.weight = new Parameter(`${name}.weight`, normalInit([inFeatures, outFeatures], opts.std ?? 1 / Math.sqrt(inFeatures), opts));
    this.bias = opts.bias === false ? null : new Parameter(`${name}.bias`, constantInit([outFeatures], 0, opts.dtype));
  }

  /**
   * Another view of the same layer: shares the Parameter objects (so gradients of both accumulate
   * into one, like an all-reduce) but keeps its own saved input. Expert replicas are made this way.
   */
  replica(): Linear {
    const r = Object.create(Linear.prototype) as Linear;
    Object.assign(r, { be: this.be, inFeatures: this.inFeatures, outFeatures: this.outFeatures, weight: this.weight, bias: this.bias, input: null });
    return r;
  }

  async forward(x: F32): Promise<F32> {
    if (x.rank !== 2 || x.cols !== this.inFeatures) throw errors.shapeMismatch('Linear.forward', 'input vs weight', x.shape, this.weight.value.shape);
    this.input = x;
    const y = await this.be.ops.matmul(x, this.weight.value, 'nn');
    return this.bias ? this.be.ops.biasAdd(y, this.bias.value) : y;
  }

  async backward(dy: F32): Promise<F32> {
    const x = this.input;
    if (!x) throw errors.badArgument('Linear.backward', 'called before forward');
    const { ops } = this.be;
    this.weight.accumulate(await ops.matmul(x, dy, 'tn'));
    if (this.bias) this.bias.accumulate(await ops.colSum(dy));
    return ops.matmul(dy, this.weight.value, 'nt');
  }

  parameters(): Parameter[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }
}
