import { createRequire } from 'node:module';
import type * as GpuJs from 'gpu.js';

// gpu.js is CommonJS; load it once through require so ESM and worker threads share one instance.
const require = createRequire(import.meta.url);
const gpujs = require('gpu.js') as typeof GpuJs & { input: (value: ArrayLike<number>, size: number[]) => GpuJs.Input };

export const GPU = gpujs.GPU;
/** Wraps a flat array as a shaped kernel argument ([cols, rows], gpu.js order). */
export const input = gpujs.input;
export type GpuInput = GpuJs.Input;
export type GpuKernel = GpuJs.IKernelRunShortcut;
export type GpuMode = 'webgpu' | 'headlessgl' | 'webasm' | 'cpu';
