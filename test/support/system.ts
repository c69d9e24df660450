import { ActorSystem, type SystemOptions } from '../../src/runtime/system.js';
import type { RuntimeEvent } from '../../src/runtime/events.js';

export const fixtures = new URL('../fixtures/actors.ts', import.meta.url);

/** Starts a system for one test; `after` hooks call the returned stop. */
export function startSystem(opts: SystemOptions = {}): Promise<ActorSystem> {
  return ActorSystem.start({ devices: 2, modules: [fixtures], ringBytes: 256 + (1 << 20), ...opts });
}

/** Resolves with the first event matching `pred` (waits on the condition, never a fixed sleep). */
export function nextEvent(system: ActorSystem, pred: (e: RuntimeEvent) => boolean, timeoutMs = 10_000): Promise<RuntimeEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error('timed out waiting for an event'));
    }, timeoutMs);
    const sub = system.events$.subscribe((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      sub.unsubscribe();
      resolve(e);
    });
  });
}

/** Resolves once `cond()` holds, checking every few milliseconds; rejects naming `what` after `timeoutMs` (a bound that only catches a hang). */
export async function until(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
