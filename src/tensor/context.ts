import { AsyncLocalStorage } from 'node:async_hooks';
import type { Arena } from './arena.js';
import type { Tape } from '../autograd/tape.js';

/**
 * What the current async context computes under: the arena its tensors come from, and the tape its
 * ops record on (null: recording is off). One AsyncLocalStorage for both, since every promise a
 * pass creates pays for each store there is; one per thread even when this module loads twice.
 */
export interface PassContext {
  arena?: Arena;
  tape?: Tape | null;
}

export const passContext: AsyncLocalStorage<PassContext> = ((globalThis as Record<symbol, unknown>)[Symbol.for('flexmoe.pass-context')] ??= new AsyncLocalStorage()) as AsyncLocalStorage<PassContext>;

/** Runs `fn` with `change` applied to the current context. */
export function withContext<T>(change: PassContext, fn: () => T): T {
  return passContext.run({ ...passContext.getStore(), ...change }, fn);
}
