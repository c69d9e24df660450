// Every kernel at the npm start model's shapes (512 tokens × d 64, d_ff 128, vocabulary 89, 4 heads
// of 16 over sequences of 32, a router over 4 experts, a 64×128 AdamW), on wasm-simd against the
// float64 reference loops, alternating, in one process: µs per call, medians. One JSON line per op.
// Usage: npx tsx bench/ops.ts [--quick]
import { cpus } from 'node:os';
import { createBackend } from '../src/kernels/backend.js';
import type { AttentionShape, KernelName } from '../src/kernels/types.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { median, round, timeAsync } from './harness.js';

const quick = process.argv.includes('--quick');
const fast = await createBackend('wasm-simd'), ref = await createBackend('reference');
let seed = 1;
const rand = (shape: number[], s = 0.5) => {
  const t = Tensor.zeros(shape) as F32;
  for (let i = 0; i < t.size; i++) t.data[i] = Math.sin(seed++ * 12.9898) * s;
  return t;
};
const T = 512, d = 64, f = 128, V = 89;
const att: AttentionShape = { batch: 16, seq: 32, heads: 4, causal: true, scale: 0.25 };
const x = rand([T, d]), dy = rand([T, d]), h = rand([T, f]), w = rand([d, f]), g = rand([d]), b = rand([d]);
const logits = rand([T, V]), targets = Tensor.ints(Array.from({ length: T }, (_, i) => (i * 7) % V)), ids = targets;
const probs = rand([T, V], 0.01), scores = rand([att.batch * att.heads * att.seq, att.seq]), router = rand([T, 4]);
const table = rand([V, d]), stats = rand([T], 0.1).data.map((v) => 1 + Math.abs(v)), rows = Tensor.from(stats, [T]) as F32;
const p = rand([d, f]), grad = rand([d, f]), m = rand([d, f], 0.01), v = rand([d, f], 0.01);
v.data.forEach((_, i) => (v.data[i] = Math.abs(v.data[i]!)));
const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.01, step: 10, gradScale: 1 };

type Ops = Awaited<ReturnType<typeof createBackend>>['ops'];
const cases: [KernelName, string, (o: Ops) => Promise<unknown>][] = [
  ['matmul', `nn [${T},${d}]·[${d},${f}]`, (o) => o.matmul(x, w, 'nn')],
  ['matmul', `nt [${T},${f}]·[${d},${f}]ᵀ`, (o) => o.matmul(h, w, 'nt')],
  ['matmul', `tn [${T},${d}]ᵀ·[${T},${f}]`, (o) => o.matmul(x, h, 'tn')],
  ['biasAdd', `[${T},${f}]`, (o) => o.biasAdd(h, rand([f]))],
  ['colSum', `[${T},${f}]`, (o) => o.colSum(h)],
  ['add', `[${T},${d}]`, (o) => o.add(x, dy)],
  ['scale', `[${T},${d}]`, (o) => o.scale(x, 0.5)],
  ['mul', `[${T},${f}]`, (o) => o.mul(h, h)],
  ['relu', `[${T},${f}]`, (o) => o.relu(h)],
  ['reluBackward', `[${T},${f}]`, (o) => o.reluBackward(h, h)],
  ['gelu', `[${T},${f}]`, (o) => o.gelu(h)],
  ['geluBackward', `[${T},${f}]`, (o) => o.geluBackward(h, h)],
  ['silu', `[${T},${f}]`, (o) => o.silu(h)],
  ['siluBackward', `[${T},${f}]`, (o) => o.siluBackward(h, h)],
  ['sigmoid', `[${T},4]`, (o) => o.sigmoid(router)],
  ['softmax', `[${scores.rows},${att.seq}] (attention)`, (o) => o.softmax(scores)],
  ['softmaxBackward', `[${scores.rows},${att.seq}]`, (o) => o.softmaxBackward(scores, scores)],
  ['layerNorm', `[${T},${d}]`, (o) => o.layerNorm(x, g, b, 1e-5)],
  ['layerNormBackward', `[${T},${d}]`, (o) => o.layerNormBackward(x, g, rows, rows, dy)],
  ['rmsNorm', `[${T},${d}]`, (o) => o.rmsNorm(x, g, 1e-5)],
  ['rmsNormBackward', `[${T},${d}]`, (o) => o.rmsNormBackward(x, g, rows, dy)],
  ['embedding', `${T} of [${V},${d}]`, (o) => o.embedding(table, ids)],
  ['embeddingBackward', `${T} into [${V},${d}]`, (o) => o.embeddingBackward(ids, dy, V)],
  ['crossEntropy', `[${T},${V}]`, (o) => o.crossEntropy(logits, targets)],
  ['crossEntropyBackward', `[${T},${V}]`, (o) => o.crossEntropyBackward(probs, targets, 1 / T)],
  ['topk', `k=2 of [${T},4]`, (o) => o.topk(router, 2)],
  ['topkBackward', `[${T},2] into 4`, async (o) => o.topkBackward((await o.topk(router, 2)).indices, rand([T, 2]), 4)],
  ['attentionScores', `B${att.batch} S${att.seq} H${att.heads} D16 causal`, (o) => o.attentionScores(x, dy, att)],
  ['attentionApply', 'same', (o) => o.attentionApply(scores, x, att)],
  ['attentionApplyT', 'same', (o) => o.attentionApplyT(scores, x, att)],
  ['sumSquares', `[${d},${f}]`, (o) => o.sumSquares(p)],
  ['adamw', `[${d},${f}]`, (o) => o.adamw(p, grad, m, v, hyper)],
  // The reference loop is what Parameter.accumulate runs; parameters' gradients now sum on the kernel.
  ['accumulate', `[${d},${f}]`, (o) => o.accumulate(p, grad)],
];
const cpu = cpus()[0]?.model;
for (const [op, shape, run] of cases) {
  const a: number[] = [], r: number[] = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) {
    a.push(await timeAsync(() => run(fast.ops), { minMs: quick ? 40 : 120 }));
    r.push(await timeAsync(() => run(ref.ops), { minMs: quick ? 40 : 120 }));
  }
  const us = median(a) * 1e3, refUs = median(r) * 1e3;
  process.stdout.write(`${JSON.stringify({ bench: 'ops', cpu, op, shape, wasmSimdUs: round(us), referenceUs: round(refUs), speedup: round(refUs / us) })}\n`);
}
fast.dispose();
ref.dispose();
