/**
 * flexmoe: Mixture-of-Experts training and serving on Node.js worker threads.
 * This is the front door; everything public is re-exported from here.
 */
export { Tensor, sizeOf, type DType, type F32, type I32 } from './tensor/tensor.js';
export { TensorPool } from './tensor/pool.js';
export { FlexMoEError, errors } from './errors.js';
export { Backend, backendNames, createBackend, createDefaultBackend, defaultBackendName, type BackendName } from './kernels/backend.js';
export { registerKernel, registeredKernels } from './kernels/registry.js';
export type { AdamWHyper, AttentionShape, KernelConfig, KernelName, KernelSignatures, MatmulForm, Ops } from './kernels/types.js';
export { Rng } from './nn/random.js';
export { Parameter, zeroGrads, type HasParameters, type ParamDType } from './nn/parameter.js';
export { Linear } from './nn/linear.js';
export { ExpertFFN } from './nn/ffn.js';
export { LayerNorm } from './nn/layernorm.js';
export { Embedding } from './nn/embedding.js';
export { CausalSelfAttention } from './nn/attention.js';
export { CrossEntropyLoss } from './nn/loss.js';
export { AdamW, type AdamWOptions } from './nn/adamw.js';
export { TransformerBlock, type BlockConfig } from './models/transformer-block.js';
export { CharTransformer, type CharTransformerConfig } from './models/char-transformer.js';
export { CharVocab } from './data/chars.js';
export { CharCorpus, mobyDick, type Batch } from './data/corpus.js';
export { trainCharLM, evaluate, generate, type LMTrainOptions, type StepStats } from './train/lm.js';
