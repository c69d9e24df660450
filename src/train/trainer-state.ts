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

/** Sets what the checkpoint holds for these parameters and the optimizer step; returns how many were found. */
export function loadFromState(state: TrainerState, { params, optimizer }: OwnedParams): number {
  let loaded = 0;
  for (const p of params) {
    const v = state.tensors[p.name];
    if (!v) continue;
    p.value.data.set(v.data);
    const mv = optimizer.moments(p);
    mv.m.data.set(state.tensors[`${p.name}#m`]!.data);
    mv.v.data.set(state.tensors[`${p.name}#v`]!.data);
    loaded++;
  }
  optimizer.restore({ step: state.optimizerStep, moments: {} });
  return loaded;
}
