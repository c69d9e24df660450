import type { KernelConfig } from '../types.js';
import { matmul, matmulAccumulate } from './matmul.js';
import { biasAdd, colSum } from './bias.js';
import { accumulate, add, scale } from './arith.js';
import { gelu, geluBackward, relu, reluBackward } from './activations.js';
import { softmax, softmaxBackward } from './softmax.js';
import { layerNorm, layerNormBackward } from './layernorm.js';
import { embedding, embeddingBackward } from './embedding.js';
import { crossEntropy, crossEntropyBackward } from './crossentropy.js';
import { topk, topkBackward } from './topk.js';
import { attentionApply, attentionApplyT, attentionScores } from './attention.js';
import { adamw, sumSquares } from './optimizer.js';
import { mul, sigmoid, silu, siluBackward } from './gated.js';
import { rmsNorm, rmsNormBackward } from './rmsnorm.js';

/** gpu.js kernels, shared by every gpu.js mode (webgpu, headlessgl, webasm, cpu). */
export const gpujsKernels: KernelConfig<any, any>[] = [
  matmul, matmulAccumulate, biasAdd, colSum, add, scale, relu, reluBackward, gelu, geluBackward, softmax, softmaxBackward,
  layerNorm, layerNormBackward, embedding, embeddingBackward, crossEntropy, crossEntropyBackward,
  topk, topkBackward, attentionScores, attentionApply, attentionApplyT, sumSquares, adamw, accumulate,
  mul, silu, siluBackward, sigmoid, rmsNorm, rmsNormBackward,
];
