import type { KernelConfig } from '../types.js';
import { attentionApply, attentionApplyT, attentionScores } from '../reference/attention.js';
import { biasAdd } from '../reference/bias.js';
import { softmax, softmaxBackward } from '../reference/softmax.js';
import { gelu, geluBackward } from './elementwise.js';
import type { WasmGemm } from './gemm.js';

/**
 * The WebAssembly SIMD family: matmul in SIMD WebAssembly, GELU as a typed-array loop with a fast
 * tanh, and the reference loops for bias add, attention's batched products and softmax. At a
 * character model's sizes a gpu.js WebAssembly kernel's launch costs more than these ops'
 * arithmetic (docs/kernels.md). Every other op comes from the gpu.js WebAssembly kernels.
 */
const loops = [biasAdd, attentionScores, attentionApply, attentionApplyT, softmax, softmaxBackward] as KernelConfig<any, any>[];

export const wasmKernels: KernelConfig<any, any>[] = [
  { kernel: 'matmul', backend: 'wasm', run: (ctx: { gemm: WasmGemm }, a, b, form) => ctx.gemm.matmul(a, b, form) } as KernelConfig<'matmul', { gemm: WasmGemm }>,
  gelu, geluBackward,
  ...loops.map((k) => ({ ...k, backend: 'wasm' })),
];
