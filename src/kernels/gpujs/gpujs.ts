import { createRequire } from 'node:module';
import type * as GpuJs from 'gpu.js';
import { errors } from '../../errors.js';

// gpu.js is CommonJS; load it once through require so ESM and worker threads share one instance.
// It is an optional peer dependency: only the gpujs-* backends need it, and it is loaded the first
// time one of them is made.
const require = createRequire(import.meta.url);
type GpuJsModule = typeof GpuJs & { input: (value: ArrayLike<number>, size: number[]) => GpuJs.Input };
let loaded: GpuJsModule | undefined;

/** The gpu.js module; an E_BACKEND error saying how to install it when it is absent. */
export function gpujs(): GpuJsModule {
  if (!loaded) {
    try {
      loaded = require('gpu.js') as GpuJsModule;
    } catch (e) {
      throw errors.backendUnavailable('gpujs-*', `the gpu.js backends need the optional package gpu.js (npm install gpu.js; add webgpu for GPUs): ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return loaded;
}

/** Wraps a flat array as a shaped kernel argument ([cols, rows], gpu.js order). */
export const input = (value: ArrayLike<number>, size: number[]): GpuJs.Input => gpujs().input(value, size);
export type GpuInput = GpuJs.Input;
export type GpuKernel = GpuJs.IKernelRunShortcut;
export type GpuInstance = InstanceType<typeof GpuJs.GPU>;
export type GpuMode = 'webgpu' | 'headlessgl' | 'webasm' | 'cpu';
