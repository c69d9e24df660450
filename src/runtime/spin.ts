// How long a ring end spins before it parks (src/runtime/ring.ts).

/**
 * A short bounded spin before parking: waking from Atomics.waitAsync costs an event-loop turn
 * (tens of µs here), while the peer usually acts within a few µs. Bounded so that with more
 * threads than cores a spinning thread gives the core back quickly. A reader's spin adapts
 * (`nextSpin`): up to 32× this while a stream keeps waking it just after it parks.
 */
export let spinIterations = 2000;
export function setSpinIterations(n: number): void {
  spinIterations = n;
}

/** A reader's spin may grow to this many times `spinIterations` while frames keep arriving soon after it parks. */
export const MAX_SPIN_FACTOR = 32;
/** A park this short (ms) means a longer spin would have caught the frame. */
const SHORT_PARK_MS = 0.25;

/**
 * The reader's next spin budget after a park of `parkedMs` that a wake-up ended (`woken`) or a
 * timeout did. A stream of frames a little slower than the spin makes the reader park and the
 * writer pay a wake-up (a futex call, 5–40 µs here) on nearly every frame; doubling the spin after
 * each short park lets it catch them instead, and one long park (the stream ended) resets it.
 */
export function nextSpin(current: number, parkedMs: number, woken: boolean): number {
  if (woken && parkedMs < SHORT_PARK_MS) return Math.min(Math.max(1, current) * 2, spinIterations * MAX_SPIN_FACTOR);
  return spinIterations;
}
