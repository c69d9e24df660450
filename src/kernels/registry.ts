import { errors } from '../errors.js';
import type { KernelConfig, KernelName } from './types.js';

/** backend family → kernel name → config. Registering the same pair twice throws. */
const table = new Map<string, Map<KernelName, KernelConfig>>();

export function registerKernel<K extends KernelName, Ctx>(config: KernelConfig<K, Ctx>): void {
  let byName = table.get(config.backend);
  if (!byName) table.set(config.backend, (byName = new Map()));
  if (byName.has(config.kernel)) throw errors.duplicateKernel(config.kernel, config.backend);
  byName.set(config.kernel, config as unknown as KernelConfig);
}

export function registerKernels(configs: readonly KernelConfig<any, any>[]): void {
  for (const c of configs) registerKernel(c);
}

export function getKernel(kernel: KernelName, backend: string): KernelConfig {
  const config = table.get(backend)?.get(kernel);
  if (!config) throw errors.missingKernel(kernel, backend);
  return config;
}

/** The config for `kernel` from the first family that has it (a backend may layer families). */
export function findKernel(kernel: KernelName, families: readonly string[]): KernelConfig | undefined {
  for (const f of families) {
    const c = table.get(f)?.get(kernel);
    if (c) return c;
  }
  return undefined;
}

export function registeredKernels(backend: string): KernelName[] {
  return [...(table.get(backend)?.keys() ?? [])];
}
