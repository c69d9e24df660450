// The npm start model's training step against the GEMM: effective GFLOP/s (the step's matmul and
// attention FLOPs ÷ its median time) beside the GEMM's GFLOP/s on the same matmul calls replayed
// alone, in the same process, and the ratio of the two (the step's share of GEMM speed).
// Attention counts what is computed: the causal products skip their masked half. One JSON line.
// Usage: npx tsx bench/step-flops.ts [--steps N]
import { cpus } from 'node:os';
import { createBackend, defaultBackendName } from '../src/kernels/backend.js';
import type { AttentionShape, MatmulForm } from '../src/kernels/types.js';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import { CharTransformer } from '../src/models/char-transformer.js';
import { modelFromFlags } from '../src/cli/model-flags.js';
import { trainCharLM } from '../src/train/lm.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { matmulShape } from '../src/kernels/shapes.js';
import { median, round, timeAsync } from './harness.js';

const at = process.argv.indexOf('--steps');
const steps = at > 0 ? Number(process.argv[at + 1]) : 80;
const warm = Math.min(20, Math.floor(steps / 4));
const be = await createBackend(await defaultBackendName());
const { text: config, batch, lr } = await modelFromFlags({});
const corpus = new CharCorpus(mobyDick());
const net = new CharTransformer(be, config);

// Count FLOPs by wrapping the backend's ops; keep the last step's matmul shapes for the replay.
let flops = 0, lastStep: [number, number, number, MatmulForm][] = [];
const ops = be.ops as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
const wrap = (name: string, count: (...a: never[]) => number) => {
  const run = ops[name]!;
  ops[name] = (...a: unknown[]) => {
    flops += count(...(a as never[]));
    return run(...a);
  };
};
wrap('matmul', (a: F32, b: F32, form: MatmulForm) => {
  const { M, K, N } = matmulShape(a, b, form);
  lastStep.push([M, K, N, form]);
  return 2 * M * K * N;
});
const attention = (_p: F32, x: F32, s: AttentionShape) => {
  const full = 2 * s.batch * s.heads * s.seq * s.seq * (x.cols / s.heads);
  return s.causal ? full * (s.seq + 1) / (2 * s.seq) : full;
};
wrap('attentionScores', attention);
wrap('attentionApply', attention);
wrap('attentionApplyT', attention);

const stepMs: number[] = [], stepFlops: number[] = [];
await trainCharLM(be, net, corpus, {
  steps, batch, lr, seed: config.seed,
  onStep: (s) => {
    stepMs.push(s.stepMs);
    stepFlops.push(flops);
    flops = 0;
    if (s.step < steps - 1) lastStep = [];
  },
});
const ms = median(stepMs.slice(warm)), stepGflop = median(stepFlops.slice(warm)) / 1e9;

// The same matmul calls alone, on random operands of the same shapes.
const rand = (shape: number[]) => {
  const t = Tensor.zeros(shape) as F32;
  for (let i = 0; i < t.size; i++) t.data[i] = Math.sin(i * 1.3) * 0.1;
  return t;
};
const calls = lastStep.map(([M, K, N, form]) => {
  const a = form === 'tn' ? rand([K, M]) : rand([M, K]), b = form === 'nt' ? rand([N, K]) : rand([K, N]);
  return { a, b, form, flop: 2 * M * K * N };
});
const gemmFlop = calls.reduce((s, c) => s + c.flop, 0);
const replayMs = await timeAsync(async () => {
  for (const c of calls) await be.ops.matmul(c.a, c.b, c.form);
}, { minMs: 1500 });
const effective = stepGflop / (ms / 1e3), gemm = gemmFlop / 1e6 / replayMs;
process.stdout.write(`${JSON.stringify({
  bench: 'step-flops', backend: be.name, cpu: cpus()[0]?.model, model: 'npm start (gpt-moe)', steps, stepMs: round(ms), tokensPerSec: Math.round((batch * config.seq * 1000) / ms),
  stepMflop: round(stepGflop * 1e3), matmulCallsPerStep: calls.length, effectiveGflops: round(effective), gemmGflopsAtModelShapes: round(gemm), share: round(effective / gemm),
})}\n`);
be.dispose();
