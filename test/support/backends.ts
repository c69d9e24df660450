import { createBackend, type Backend } from '../../src/kernels/backend.js';

/** Backends whose kernels are checked against `reference`; GPU modes join when this machine has them. */
const candidates = ['wasm-simd', 'gpujs-webasm', 'gpujs-cpu', 'gpujs-webgpu', 'gpujs-headlessgl'] as const;

let available: Promise<string[]> | undefined;

export function testedBackends(): Promise<string[]> {
  available ??= (async () => {
    const names: string[] = [];
    for (const name of candidates) {
      try {
        const be = await createBackend(name);
        be.dispose();
        names.push(name);
      } catch {
        // not on this machine
      }
    }
    return names;
  })();
  return available;
}

/**
 * Runs `suite` once per backend in `names` (from `await testedBackends()` at the top of a spec
 * file), handing it the backend and the reference oracle; both are disposed after the suite.
 */
export function describeEachBackend(names: string[], title: string, suite: (get: () => { be: Backend; ref: Backend }) => void): void {
  for (const name of names) {
    describe(`${title} [${name}]`, function () {
      let be: Backend, ref: Backend;
      before(async () => {
        be = await createBackend(name);
        ref = await createBackend('reference');
      });
      after(() => be?.dispose());
      suite(() => ({ be, ref }));
    });
  }
}
