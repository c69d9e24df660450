import type { KernelConfig } from '../types.js';
import type { WasmGemm } from './gemm.js';

/** The WebAssembly SIMD family: matmul only; every other op comes from the gpu.js WebAssembly kernels. */
export const wasmKernels: KernelConfig<any, any>[] = [
  { kernel: 'matmul', backend: 'wasm', run: (ctx: { gemm: WasmGemm }, a, b, form) => ctx.gemm.matmul(a, b, form) } as KernelConfig<'matmul', { gemm: WasmGemm }>,
];
