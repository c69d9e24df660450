import type { KernelConfig } from '../types.js';
import { attentionApply, attentionApplyT, attentionScores, softmax, softmaxBackward } from './attention.js';
import { biasAdd, gelu, geluBackward } from './elementwise.js';
import type { WasmGemm } from './gemm.js';

/**
 * The WebAssembly SIMD family: matmul in SIMD WebAssembly; the elementwise ops an expert runs
 * between its matmuls (bias add, GELU and its backward) and attention's small batched products
 * and softmax as typed-array loops, because at these sizes a gpu.js WebAssembly kernel's launch
 * costs more than the arithmetic (docs/kernels.md). Every other op comes from the gpu.js
 * WebAssembly kernels.
 */
export const wasmKernels: KernelConfig<any, any>[] = [
  { kernel: 'matmul', backend: 'wasm', run: (ctx: { gemm: WasmGemm }, a, b, form) => ctx.gemm.matmul(a, b, form) } as KernelConfig<'matmul', { gemm: WasmGemm }>,
  biasAdd, gelu, geluBackward, attentionScores, attentionApply, attentionApplyT, softmax, softmaxBackward,
];
