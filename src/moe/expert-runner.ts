/**
 * An expert that computes from row messages (src/runtime/row-post.ts): each forward pass runs on a
 * tape of the expert's own, kept under its pass number, and the backward message for that pass
 * replays it, adding the parameters' gradients into their `grad` and answering with the rows'
 * gradient. So the expert's backward runs where the expert is, whoever sent the rows, and the
 * sender's tape holds only the exchange.
 */
import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import { currentTape, Tape } from '../autograd/tape.js';
import { sinkParameters } from '../autograd/grad.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import type { RowHandler, RowKind } from '../runtime/row-post.js';
import type { Expert } from './expert.js';

/** Passes kept awaiting their backward; older ones (a step abandoned after an error) are dropped. */
const KEEP = 8;

export class ExpertRunner implements RowHandler {
  private readonly passes = new Map<number, { tape: Tape; x: F32; y: F32 }>();

  constructor(private readonly be: Backend, readonly expert: Expert) {}

  async rows(kind: RowKind, x: F32, pass: number): Promise<F32> {
    return kind === 'forward' ? this.forward(x, pass) : this.backward(x, pass);
  }

  /** Runs the expert; records the pass when the caller's pass records one (training), not otherwise (inference). */
  async forward(x: F32, pass: number): Promise<F32> {
    if (x.cols !== this.expert.dModel) throw errors.badShape(`${this.expert.name} forward`, x.shape, `[n, ${this.expert.dModel}]`);
    if (!currentTape()) return this.expert.forward(x);
    const tape = new Tape(this.be);
    tape.watch(x);
    sinkParameters(tape, this.expert.parameters());
    const y = await tape.run(() => this.expert.forward(x));
    this.passes.delete(pass);
    this.passes.set(pass, { tape, x, y });
    while (this.passes.size > KEEP) this.passes.delete(this.passes.keys().next().value!);
    return y;
  }

  /** d(loss)/d(rows) of pass `pass`, given d(loss)/d(its output); the parameters' gradients accumulate (sunk on the tape). */
  async backward(dy: F32, pass: number): Promise<F32> {
    const p = this.passes.get(pass);
    if (!p) throw errors.badArgument(`${this.expert.name} backward`, `pass ${pass} has no recorded forward here`);
    this.passes.delete(pass);
    if (dy.rows !== p.y.rows || dy.cols !== p.y.cols) throw errors.shapeMismatch(`${this.expert.name} backward`, 'gradient vs output', dy.shape, p.y.shape);
    const grads = await p.tape.backward([[p.y, dy]]);
    return grads.get(p.x) ?? (Tensor.zeros(p.x.shape, p.x.dtype) as F32);
  }

  /** Forgets every recorded pass (the actor moved, or a step was abandoned). */
  clear(): void {
    this.passes.clear();
  }
}
