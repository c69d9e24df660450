// AssemblyScript entry: every kernel of the wasm-simd backend, compiled into one module by
// scripts/build-wasm.ts (memory is exported; the caller lays out its operands above heapBase()).
export { gemm, packPanels, transpose } from './gemm';
export { gemmNT } from './dot';
export { attentionScores, attentionApply, attentionApplyT } from './attention';
export { softmax, softmaxBackward, crossEntropy, crossEntropyBackward, layerNorm, layerNormBackward, rmsNorm, rmsNormBackward } from './rows';
export { frameHash } from './hash';
export { add, accumulate, mul, scale, relu, reluBackward, gelu, geluBackward, sigmoid, silu, siluBackward, biasAdd, colSum, sumSquares, adamw, embeddingBackward } from './elementwise';

/** The first byte the caller may use. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

/** n floats of zeros at p: a resident gradient cleared (a typed array's fill on shared memory is several times slower). */
export function zero(p: usize, n: i32): void {
  memory.fill(p, 0, <usize>n << 2);
}
