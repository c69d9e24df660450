import type { KernelConfig } from '../types.js';
import { embedding } from '../reference/embedding.js';
import { topk, topkBackward } from '../reference/topk.js';
import { matmul, matmulAccumulate } from './matmul.js';
import { attentionApply, attentionApplyT, attentionScores } from './attention.js';
import * as rows from './rows.js';
import * as ew from './elementwise.js';

/**
 * The wasm-simd family: every arithmetic kernel in WebAssembly SIMD (simd/*.ts, compiled into one
 * module), float32. Three ops stay on the reference kernels because they do no arithmetic worth
 * vectorising: `embedding` (one row copy per token), `topk` and `topkBackward` (comparisons and a
 * scatter over a router's few columns).
 */
export const wasmKernels: KernelConfig<any, any>[] = [
  matmul, matmulAccumulate, attentionScores, attentionApply, attentionApplyT,
  ...(Object.values(rows) as KernelConfig<any, any>[]), ...(Object.values(ew) as KernelConfig<any, any>[]),
  ...([embedding, topk, topkBackward] as KernelConfig<any, any>[]).map((k) => ({ ...k, backend: 'wasm' })),
];
