// AssemblyScript entry: every kernel of the wasm-simd backend, compiled into one module by
// scripts/build-wasm.ts (memory is exported; the caller lays out its operands above heapBase()).
export { gemm, packPanels } from './gemm';
export { attentionScores, attentionApply, attentionApplyT } from './attention';
export { softmax, softmaxBackward, crossEntropy, crossEntropyBackward, layerNorm, layerNormBackward, rmsNorm, rmsNormBackward } from './rows';
export { frameHash } from './hash';
export { add, mul, scale, relu, reluBackward, gelu, geluBackward, sigmoid, silu, siluBackward, biasAdd, colSum, sumSquares, adamw, embeddingBackward } from './elementwise';

/** The first byte the caller may use. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}
