import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import { passContext, withContext } from '../tensor/context.js';
import { addGradient } from '../nn/parameter.js';

/**
 * Maps the gradients of an op's outputs to the gradients of its inputs. `needs[i]` says whether
 * input i wants one (a parameter or anything computed from one); the rest may be null. Where
 * `into[i]` is given (input i is a parameter's value sunk into its gradient, `Tape.sink`), the op
 * may add input i's gradient into it itself and return `into[i]` to say so: a weight gradient
 * summed where it lives, with no tensor of its own.
 */
export type BackwardFn = (dOutputs: readonly (F32 | null)[], needs: readonly boolean[], into: readonly (F32 | undefined)[]) => Promise<readonly (F32 | null)[]>;

export interface RecordOptions {
  /**
   * Record and replay it whatever reaches it: a collective, which every device must run in the
   * same order, gets zeros for outputs no gradient reached, and runs even when none did.
   */
  always?: boolean;
}

interface Entry {
  inputs: readonly Tensor[];
  outputs: readonly Tensor[];
  backward: BackwardFn;
  always: boolean;
}

/**
 * Reverse-mode autograd over backend ops, micrograd's idea on tensors: while a tape is current
 * (`Tape.run`), every differentiable op (autograd/ops.ts) whose inputs include a watched tensor
 * records its inputs, outputs and a closure that knows its backward. Ops run in an order that is
 * already topological, so `backward` replays the entries newest first, summing each tensor's
 * gradient over its uses. Tensors are keyed by identity. Intermediates live in the step's arena
 * (tensor/arena.ts), so the tape holds them only until that arena resets. Layers may add side
 * losses (a router's auxiliary loss): `backward` seeds each with its weight.
 */
export class Tape {
  private entries: Entry[] = [];
  private readonly watched = new Set<Tensor>();
  private readonly losses: { t: F32; weight: number }[] = [];
  private readonly sinks = new Map<Tensor, F32>();
  private done = false;

  constructor(readonly be: Backend) {}

  /** Gradients are wanted for `t` (a parameter's value, an input). */
  watch(...ts: Tensor[]): void {
    for (const t of ts) this.watched.add(t);
  }

  /**
   * Gradients for `value` (watched from now on) are added straight into `grad` as the backward pass
   * makes them (a parameter's value and gradient), not returned by `backward`.
   */
  sink(value: Tensor, grad: F32): void {
    if (grad.size !== value.size) throw errors.shapeMismatch('Tape.sink', 'gradient vs tensor', grad.shape, value.shape);
    this.watched.add(value);
    this.sinks.set(value, grad);
  }

  /** Records an op if any input is watched (or `always`); its outputs are then watched too. */
  record(inputs: readonly Tensor[], outputs: readonly Tensor[], backward: BackwardFn, opts: RecordOptions = {}): void {
    if (this.done) throw errors.badArgument('Tape.record', 'the tape has already run backward; start a new one');
    // An output that is also an input would get its own gradient added back to it.
    for (const o of outputs) if (inputs.includes(o)) throw errors.badArgument('Tape.record', 'an op returned one of its inputs as an output; return a new tensor');
    const always = opts.always ?? false;
    if (!always && !inputs.some((t) => this.watched.has(t))) return;
    for (const o of outputs) this.watched.add(o);
    this.entries.push({ inputs, outputs, backward, always });
  }

  /** Runs `fn` when the backward pass reaches this point (after everything recorded later has run backward). */
  hook(fn: () => Promise<void>): void {
    this.record([], [], async () => (await fn(), []), { always: true });
  }

  /** A scalar ([1]) that is part of the loss beside the one `backward` is seeded with. */
  addLoss(t: F32, weight = 1): void {
    if (t.size !== 1) throw errors.badShape('Tape.addLoss', t.shape, 'a scalar ([1])');
    if (this.watched.has(t)) this.losses.push({ t, weight });
  }

  /** Runs `fn` with this tape recording the ops it and the async work it starts run. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return withContext({ tape: this }, fn);
  }

  /**
   * Seeds d(loss)/d(t) for each `[t, gradient]` (and each side loss with its weight) and walks the
   * tape back. Returns every watched tensor's gradient that the seeds reach, but a sunk one's, which
   * is added into its sink. A tape runs backward once.
   */
  async backward(seeds: readonly (readonly [Tensor, F32])[]): Promise<Map<Tensor, F32>> {
    if (this.done) throw errors.badArgument('Tape.backward', 'the tape has already run backward');
    this.done = true;
    const grads = new Map<Tensor, F32>();
    for (const [t, g] of seeds) await this.accumulate(grads, t, g);
    for (const { t, weight } of this.losses) {
      const g = Tensor.zeros(t.shape, t.dtype) as F32;
      g.data[0] = weight;
      await this.accumulate(grads, t, g);
    }
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      let dOut = e.outputs.map((o) => grads.get(o) ?? null);
      if (e.always) dOut = dOut.map((g, j) => g ?? (Tensor.zeros(e.outputs[j]!.shape, e.outputs[j]!.dtype) as F32));
      else if (dOut.every((g) => g === null)) continue;
      const needs = e.inputs.map((t) => this.watched.has(t));
      const into = e.inputs.map((t) => this.sinks.get(t));
      const dIn = await e.backward(dOut, needs, into);
      for (let j = 0; j < e.inputs.length; j++) {
        const g = dIn[j];
        if (g && needs[j] && g !== into[j]) await this.accumulate(grads, e.inputs[j]!, g);
      }
    }
    this.entries = [];
    return grads;
  }

  private async accumulate(grads: Map<Tensor, F32>, t: Tensor, g: F32): Promise<void> {
    if (g.size !== t.size) throw errors.shapeMismatch('Tape.backward', 'gradient vs tensor', g.shape, t.shape);
    const sink = this.sinks.get(t);
    if (sink) return addGradient(this.be, sink, g);
    const have = grads.get(t);
    // A backward may hand the same tensor to several inputs (add's does): never sum in place.
    grads.set(t, have ? await this.be.ops.add(have, g) : g);
  }
}

/** The tape recording the current async context, if any. */
export function currentTape(): Tape | undefined {
  return passContext.getStore()?.tape ?? undefined;
}

/**
 * Runs `fn` with no tape recording and no layer keeping its last pass (torch's `no_grad`):
 * inference, evaluation, sampling.
 */
export function untaped<T>(fn: () => Promise<T>): Promise<T> {
  return withContext({ tape: null }, fn);
}

/**
 * Runs `fn` outside any tape: layers in it record their passes on tapes of their own, as when no
 * tape is running (a layer with a backward of its own drives its sublayers' backward this way).
 */
export function detached<T>(fn: () => Promise<T>): Promise<T> {
  return withContext({ tape: undefined }, fn);
}

/** Inside `untaped`: nothing records. */
export function gradientsOff(): boolean {
  return passContext.getStore()?.tape === null;
}
