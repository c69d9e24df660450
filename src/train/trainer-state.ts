import type { AdamW } from '../nn/adamw.js';
import type { Parameter } from '../nn/parameter.js';

/** A device's share of a checkpoint: tensors by logical name (Adam moments as `name#m`, `name#v`). */
export interface TrainerState {
  tensors: Record<string, { shape: number[]; data: Float32Array }>;
  optimizerStep: number;
  dataRng: number;
}

/** Parameters with the optimizer that holds their moments (the trainer's, a gate's, an expert's). */
export interface OwnedParams {
  params: Parameter[];
  optimizer: AdamW;
}

/** Adds parameters and their Adam moments to a checkpoint share, by logical name. */
export function addToState(tensors: TrainerState['tensors'], { params, optimizer }: OwnedParams): void {
  for (const p of params) {
    const mv = optimizer.moments(p);
    tensors[p.name] = { shape: [...p.value.shape], data: Float32Array.from(p.value.data) };
    tensors[`${p.name}#m`] = { shape: [...p.value.shape], data: Float32Array.from(mv.m.data) };
    tensors[`${p.name}#v`] = { shape: [...p.value.shape], data: Float32Array.from(mv.v.data) };
  }
}

/**
 * What these parameters need from a checkpoint share (each value and its two moments, by logical
 * name) and what is wrong with it: a tensor missing or of another size. Nothing is loaded here.
 */
export function checkState(state: TrainerState, parts: OwnedParams[]): { needed: string[]; problems: string[] } {
  const needed: string[] = [], problems: string[] = [];
  for (const { params } of parts) {
    for (const p of params) {
      for (const name of [p.name, `${p.name}#m`, `${p.name}#v`]) {
        needed.push(name);
        const t = state.tensors[name];
        if (!t) problems.push(`lacks ${name}`);
        else if (t.data.length !== p.value.size || t.shape.length !== p.value.shape.length || t.shape.some((d, i) => d !== p.value.shape[i])) {
          problems.push(`has ${name} of shape [${t.shape.join(',')}], this model's is [${p.value.shape.join(',')}]`);
        }
      }
    }
  }
  return { needed, problems };
}

/** Sets parameters and Adam moments from a checkpoint share checked by `checkState`, and the optimizer step. */
export function loadFromState(state: TrainerState, { params, optimizer }: OwnedParams): void {
  for (const p of params) {
    p.value.data.set(state.tensors[p.name]!.data);
    const mv = optimizer.moments(p);
    mv.m.data.set(state.tensors[`${p.name}#m`]!.data);
    mv.v.data.set(state.tensors[`${p.name}#v`]!.data);
  }
  optimizer.restore({ step: state.optimizerStep, moments: {} });
}
