import type { Backend } from '../kernels/backend.js';
import { errors } from '../errors.js';
import type { F32 } from '../tensor/tensor.js';
import { Linear, type LinearOptions } from '../nn/linear.js';
import type { InitOptions, Parameter, ParamDType } from '../nn/parameter.js';
import type { Rng } from '../nn/random.js';

/** What every expert of a layer is built from: its size, its name and its initialisation. */
export interface ExpertSpec {
  /** e.g. `block0.moe.expert3`: parameters are named under it (checkpoints address them so). */
  name: string;
  dModel: number;
  /** The hidden width. */
  dFF: number;
  rng: Rng;
  dtype?: ParamDType;
  /** Standard deviation of the output projection's init (residual scaling). */
  outStd?: number;
  /** Leave weights zero: they are about to be overwritten (a restored or checkpointed actor). */
  skipInit?: boolean;
}

/**
 * An expert: extend it, declare parameters in fields (`this.linear(...)`), list them in
 * `parameters()` and write `forward` with the autograd ops; the tape gives the backward. Experts map
 * rows to rows ([n, dModel] → [n, dModel]) and each output row may depend only on its own input row,
 * which is what lets any placement compute the same values. Register the class by name
 * (`registerExpert`) in a module every device loads, and name it in the MoE options.
 *
 * ```ts
 * class SquaredReLUExpert extends Expert {
 *   up = this.linear('up', this.dModel, this.dFF);
 *   down = this.linear('down', this.dFF, this.dModel, { std: this.spec.outStd });
 *   async forward(x: F32) { const h = await ad.relu(this.be, await this.up.forward(x)); return this.down.forward(await ad.mul(this.be, h, h)); }
 *   parameters() { return [...this.up.parameters(), ...this.down.parameters()]; }
 * }
 * registerExpert('squared-relu', SquaredReLUExpert);
 * ```
 */
export abstract class Expert {
  constructor(protected readonly be: Backend, readonly spec: ExpertSpec) {}

  get dModel(): number {
    return this.spec.dModel;
  }

  get dFF(): number {
    return this.spec.dFF;
  }

  get name(): string {
    return this.spec.name;
  }

  /** A Linear named `<expert name>.<name>`, initialised from the expert's generator. */
  protected linear(name: string, inFeatures: number, outFeatures: number, opts: Omit<LinearOptions, keyof InitOptions> = {}): Linear {
    const { rng, dtype, skipInit } = this.spec;
    return new Linear(this.be, inFeatures, outFeatures, { rng, dtype, skipInit, ...opts, name: `${this.spec.name}.${name}` });
  }

  /** Output rows for input rows x [n, dModel], written with autograd ops. */
  abstract forward(x: F32): Promise<F32>;

  abstract parameters(): Parameter[];

  toString(): string {
    return `${this.constructor.name} ${this.spec.name} (${this.spec.dModel}→${this.spec.dFF}→${this.spec.dModel})`;
  }
}

export type ExpertClass = new (be: Backend, spec: ExpertSpec) => Expert;

// One registry per thread, even when this module is loaded twice (see models/tasks.ts).
const experts: Map<string, ExpertClass> = ((globalThis as Record<symbol, unknown>)[Symbol.for('flexmoe.experts')] ??= new Map()) as Map<string, ExpertClass>;

/** Makes an expert class known by name, on this thread (register at module load; list the module in `modules`). */
export function registerExpert(name: string, cls: ExpertClass): void {
  experts.set(name, cls);
}

export function knownExperts(): string[] {
  return [...experts.keys()];
}

/** Builds an expert of the class registered as `kind` (default `ffn`). */
export function makeExpert(be: Backend, kind: string | undefined, spec: ExpertSpec): Expert {
  const cls = experts.get(kind ?? 'ffn');
  if (!cls) throw errors.badArgument('expert', `unknown expert "${kind}"; known: ${knownExperts().join(', ')} (register yours with registerExpert in a module every device loads)`);
  return new cls(be, spec);
}
