import { errors } from '../errors.js';
import type { AdamW } from '../nn/adamw.js';
import type { Parameter } from '../nn/parameter.js';

/**
 * What an actor that trains its own parameters carries in a snapshot: every parameter's value and
 * Adam moments (in `parameters()` order: value, m, v for each) and the optimizer's step, so a clone
 * or a migrated copy continues the exact update sequence.
 */
export interface OwnedState {
  step: number;
  tensors: Float32Array[];
}

export function ownedState(params: Parameter[], optimizer: AdamW): OwnedState {
  const tensors = params.flatMap((p) => {
    const { m, v } = optimizer.moments(p);
    return [Float32Array.from(p.value.data), Float32Array.from(m.data), Float32Array.from(v.data)];
  });
  return { step: optimizer.step, tensors };
}

/** Sets parameters and moments from a state; a state of another shape is refused before anything changes. */
export function setOwnedState(owner: string, params: Parameter[], optimizer: AdamW, state: OwnedState): void {
  const t = state?.tensors;
  if (!Array.isArray(t) || t.length !== params.length * 3) throw errors.badArgument(`restore ${owner}`, `state holds ${Array.isArray(t) ? t.length : 'no'} tensors, expected ${params.length * 3} (value, m, v per parameter)`);
  params.forEach((p, i) => {
    for (let j = 0; j < 3; j++) {
      if (t[3 * i + j]?.length !== p.value.size) throw errors.badArgument(`restore ${owner}`, `${p.name}: ${t[3 * i + j]?.length} values, expected ${p.value.size}`);
    }
  });
  params.forEach((p, i) => {
    const { m, v } = optimizer.moments(p);
    p.value.data.set(t[3 * i]!);
    m.data.set(t[3 * i + 1]!);
    v.data.set(t[3 * i + 2]!);
  });
  optimizer.restore({ step: state.step, moments: {} });
}
