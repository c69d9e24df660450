import type { KernelConfig } from '../types.js';
import { relu, reluBackward } from '../reference/activations.js';
import { add, scale } from '../reference/arith.js';
import { attentionApply, attentionApplyT, attentionScores } from '../reference/attention.js';
import { biasAdd } from '../reference/bias.js';
import { crossEntropy, crossEntropyBackward } from '../reference/crossentropy.js';
import { embedding, embeddingBackward } from '../reference/embedding.js';
import { layerNorm, layerNormBackward } from '../reference/layernorm.js';
import { adamw } from '../reference/optimizer.js';
import { softmax, softmaxBackward } from '../reference/softmax.js';
import { topk, topkBackward } from '../reference/topk.js';
import { mul, sigmoid, silu, siluBackward } from '../reference/gated.js';
import { rmsNorm, rmsNormBackward } from '../reference/rmsnorm.js';
import { gelu, geluBackward } from './elementwise.js';
import type { WasmGemm } from './gemm.js';

/**
 * The WebAssembly SIMD family: matmul, GELU and the bias add in SIMD WebAssembly (gemm.wat), and the reference loops for the ops where a gpu.js WebAssembly kernel's launch and input
 * copies cost more than the arithmetic at a character model's sizes (measured per op in
 * docs/kernels.md). colSum and sumSquares stay on the gpu.js WebAssembly kernels, as fast there.
 */
const loops = [
  attentionScores, attentionApply, attentionApplyT, softmax, softmaxBackward,
  layerNorm, layerNormBackward, add, scale, relu, reluBackward, embedding, embeddingBackward,
  crossEntropy, crossEntropyBackward, topk, topkBackward, adamw,
  mul, silu, siluBackward, sigmoid, rmsNorm, rmsNormBackward,
] as KernelConfig<any, any>[];

export const wasmKernels: KernelConfig<any, any>[] = [
  { kernel: 'matmul', backend: 'wasm', run: (ctx: { gemm: WasmGemm }, a, b, form) => ctx.gemm.matmul(a, b, form) } as KernelConfig<'matmul', { gemm: WasmGemm }>,
  gelu, geluBackward,
  {
    kernel: 'biasAdd', backend: 'wasm',
    // Four lanes at a time when rows are whole vectors of float32; the loop otherwise (f64 checks, odd widths).
    run: (ctx: { gemm: WasmGemm }, x, bias) => (x.dtype === 'f32' && bias.dtype === 'f32' && x.cols % 4 === 0 && bias.size === x.cols ? ctx.gemm.biasAdd(x, bias) : biasAdd.run(ctx as never, x, bias)),
  } as KernelConfig<'biasAdd', { gemm: WasmGemm }>,
  ...loops.map((k) => ({ ...k, backend: 'wasm' })),
];
