import type { KernelConfig } from '../types.js';
import { matmul, matmulAccumulate } from './matmul.js';
import { biasAdd, colSum } from './bias.js';
import { add, scale } from './arith.js';
import { gelu, geluBackward, relu, reluBackward } from './activations.js';
import { softmax, softmaxBackward } from './softmax.js';
import { layerNorm, layerNormBackward } from './layernorm.js';
import { embedding, embeddingBackward } from './embedding.js';
import { crossEntropy, crossEntropyBackward } from './crossentropy.js';
import { topk, topkBackward } from './topk.js';
import { attentionApply, attentionApplyT, attentionScores } from './attention.js';
import { accumulate, adamw, sumSquares } from './optimizer.js';
import { mul, sigmoid, silu, siluBackward } from './gated.js';
import { rmsNorm, rmsNormBackward } from './rmsnorm.js';

/** The reference backend: plain TypeScript, float64 accumulation; the oracle every other backend is tested against. */
export const referenceKernels: KernelConfig<any, any>[] = [
  matmul, matmulAccumulate, biasAdd, colSum, add, scale, relu, reluBackward, gelu, geluBackward, softmax, softmaxBackward,
  layerNorm, layerNormBackward, embedding, embeddingBackward, crossEntropy, crossEntropyBackward,
  topk, topkBackward, attentionScores, attentionApply, attentionApplyT, sumSquares, adamw, accumulate,
  mul, silu, siluBackward, sigmoid, rmsNorm, rmsNormBackward,
];
