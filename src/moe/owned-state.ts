import { errors } from '../errors.js';
import type { AdamW } from '../nn/adamw.js';
import type { Parameter } from '../nn/parameter.js';

/**
 * What an actor that owns parameters carries in a snapshot: every parameter's value and, when it
 * trains, its Adam moments (in `parameters()` order: value, m, v for each) and the optimizer's step,
 * so a clone or a migrated copy continues the exact update sequence. Serving actors carry values only.
 */
export interface OwnedState {
  step: number;
  tensors: Float32Array[];
}

export function ownedState(params: Parameter[], optimizer: AdamW | null): OwnedState {
  const tensors = params.flatMap((p) => {
    if (!optimizer) return [Float32Array.from(p.value.data)];
    const { m, v } = optimizer.moments(p);
    return [Float32Array.from(p.value.data), Float32Array.from(m.data), Float32Array.from(v.data)];
  });
  return { step: optimizer?.step ?? 0, tensors };
}

/** Sets parameters and moments from a state; a state of another shape is refused before anything changes. */
export function setOwnedState(owner: string, params: Parameter[], optimizer: AdamW | null, state: OwnedState): void {
  const t = state?.tensors, per = optimizer ? 3 : 1;
  const what = optimizer ? 'value, m, v per parameter' : 'a value per parameter';
  if (!Array.isArray(t) || t.length !== params.length * per) throw errors.badArgument(`restore ${owner}`, `state holds ${Array.isArray(t) ? t.length : 'no'} tensors, expected ${params.length * per} (${what})`);
  params.forEach((p, i) => {
    for (let j = 0; j < per; j++) {
      if (t[per * i + j]?.length !== p.value.size) throw errors.badArgument(`restore ${owner}`, `${p.name}: ${t[per * i + j]?.length} values, expected ${p.value.size}`);
    }
  });
  params.forEach((p, i) => {
    p.value.data.set(t[per * i]!);
    if (!optimizer) return;
    const { m, v } = optimizer.moments(p);
    m.data.set(t[3 * i + 1]!);
    v.data.set(t[3 * i + 2]!);
  });
  optimizer?.restore({ step: state.step, moments: {} });
}
