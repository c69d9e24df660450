import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import type { Parameter } from '../nn/parameter.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import { currentTape, gradientsOff, Tape } from './tape.js';

/**
 * tfjs's `variableGrads`, on parameters: runs `f` on a fresh tape, takes its scalar result as the
 * loss, and adds d(loss)/d(p) into every parameter's `grad`. Returns the loss.
 *
 * ```ts
 * const loss = await valueAndGrads(be, model.parameters(), async () => (await ad.crossEntropy(be, await model.forward(ids, batch), targets)).loss);
 * ```
 */
export async function valueAndGrads(be: Backend, params: readonly Parameter[], f: () => Promise<F32>, seed = 1): Promise<number> {
  const tape = new Tape(be);
  sinkParameters(tape, params);
  const loss = await tape.run(f);
  if (loss.size !== 1) throw errors.badShape('valueAndGrads', loss.shape, 'a scalar loss ([1])');
  const dLoss = Tensor.zeros(loss.shape, loss.dtype) as F32;
  dLoss.data[0] = seed;
  await tape.backward([[loss, dLoss]]);
  return loss.data[0]!;
}

/**
 * Every parameter's gradient is added into its `grad` as the tape's backward makes it (Tape.sink):
 * a weight gradient is then summed in place by the op that makes it, with no tensor of its own. A
 * parameter listed twice (tied or shared) is sunk once, and still gets every use's gradient.
 */
export function sinkParameters(tape: Tape, params: readonly Parameter[]): void {
  for (const p of new Set(params)) tape.sink(p.value, p.grad);
}

/**
 * The last forward of a layer, for layers used the old way (`forward(x)`, then `backward(dy)`):
 * `run` records the forward on a tape of its own unless an outer tape is already recording it, and
 * `backward` replays that tape, adding parameter gradients and returning the input's gradient.
 * No layer writes its backward by hand: this is the same tape, driven one layer at a time.
 */
export class LastPass {
  private last: { tape: Tape; inputs: F32[]; output: F32 } | null = null;

  constructor(private readonly be: Backend, private readonly what: string) {}

  /** `params` is asked for only when this layer's forward runs on a tape of its own. */
  async run(inputs: F32[], params: () => Parameter[], f: () => Promise<F32>): Promise<F32> {
    if (currentTape() || gradientsOff()) {
      this.last = null;
      return f();
    }
    const tape = new Tape(this.be);
    tape.watch(...inputs);
    sinkParameters(tape, params());
    const output = await tape.run(f);
    this.last = { tape, inputs, output };
    return output;
  }

  /** d(loss)/d(inputs) given d(loss)/d(output); parameter gradients accumulate. */
  async backward(dy: F32): Promise<F32[]> {
    const last = this.last;
    if (!last) throw errors.badArgument(`${this.what}.backward`, 'called before forward (or its forward was recorded on an outer tape)');
    this.last = null;
    const grads = await last.tape.backward([[last.output, dy]]);
    return last.inputs.map((x) => grads.get(x) ?? (Tensor.zeros(x.shape, x.dtype) as F32));
  }
}
