import type { Rng } from '../nn/random.js';

/** A context window of `seq` ids: the last ones, zero-padded on the right when shorter. */
export function padRight(ids: number[], seq: number): number[] {
  return ids.length >= seq ? ids : [...ids, ...new Array(seq - ids.length).fill(0)];
}

/** The next id: the most likely at temperature 0, otherwise drawn from softmax(logits / temperature). */
export function sample(logits: Float32Array, temperature: number, rng: Rng): number {
  let max = -Infinity, arg = 0;
  logits.forEach((v, i) => v > max && ((max = v), (arg = i)));
  if (temperature === 0) return arg;
  const w = Array.from(logits, (v) => Math.exp((v - max) / temperature));
  return rng.categorical(w);
}

/** A classifier's answer: the most likely class and every class's probability. */
export function softmaxAnswer(logits: Float32Array): { label: number; probabilities: number[] } {
  const max = Math.max(...logits);
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  const probabilities = e.map((v) => v / sum);
  return { label: probabilities.indexOf(Math.max(...probabilities)), probabilities };
}

