// Kernel throughput: GFLOP/s of each matmul form and of a whole expert FFN step per backend, against
// tfjs-backend-wasm (XNNPACK) measured in the same process. One JSON line per (shape, backend), then
// per-call overhead lines. Usage: npx tsx bench/kernels.ts [--backends a,b] [--quick]
import { createBackend, defaultBackendName } from '../src/kernels/backend.js';
import { ffnStepMatmuls } from '../src/kernels/ffn-step.js';
import { Rng } from '../src/nn/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { round, timeAsync } from './harness.js';
import { tfjsAnchor } from './tfjs-anchor.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = args.indexOf('--backends');
const backends = flag >= 0 ? args[flag + 1]!.split(',') : ['wasm-simd', 'gpujs-webasm', 'gpujs-cpu'];
const shapes: [number, number, number][] = quick ? [[64, 128, 512]] : [[64, 128, 512], [256, 128, 512], [1024, 256, 1024]];

const rand = (rng: Rng, shape: number[]) => {
  const t = Tensor.zeros(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * 0.1;
  return t;
};

const defaultName = await defaultBackendName();
const tfjs = await tfjsAnchor();
const rng = new Rng(1);
for (const [T, d, f] of shapes) {
  const x = rand(rng, [T, d]), w1In = rand(rng, [d, f]), w2In = rand(rng, [f, d]), dy = rand(rng, [T, d]), dh = rand(rng, [T, f]);
  const flop = 2 * T * d * f;
  const budget = { minMs: quick ? 150 : 600, minSamples: 3 };
  for (const name of backends) {
    const be = await createBackend(name);
    try {
      const w1 = be.resident(w1In), w2 = be.resident(w2In); // parameters live in the backend's memory
      const gflops = async (fn: () => unknown, flops: number) => flops / (await timeAsync(fn, budget)) / 1e6;
      const nn = await gflops(() => be.ops.matmul(x, w1, 'nn'), flop);
      const nt = await gflops(() => be.ops.matmul(dh, w1, 'nt'), flop);
      const tn = await gflops(() => be.ops.matmul(x, dh, 'tn'), flop);
      const step = await gflops(ffnStepMatmuls(be, x, w1, w2, dy), 6 * flop);
      const anchor = await gflops(tfjs.ffnStep(T, d, f), 6 * flop); // measured right after, same process
      const line = { bench: 'kernels', shape: [T, d, f], backend: name, default: name === defaultName, nn: round(nn), nt: round(nt), tn: round(tn), ffnStepGflops: round(step), tfjsWasmFfnStepGflops: round(anchor), ratio: round(step / anchor) };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    } finally {
      be.dispose();
    }
  }
}

// Per-call overhead: one X[T,128]·W[128,512] call at small T (a decode step's expert matmul), where fixed costs dominate.
for (const name of backends) {
  const be = await createBackend(name);
  try {
    for (const T of [1, 8, 64]) {
      // The weight as a model holds it: a parameter, resident in the backend's memory (tfjs keeps its tensors in its own).
      const x = rand(rng, [T, 128]), w = be.resident(rand(rng, [128, 512]));
      const us = (await timeAsync(() => be.ops.matmul(x, w, 'nn'), { minMs: 200 })) * 1000;
      const anchorUs = (await timeAsync(tfjs.matmulNN(T, 128, 512), { minMs: 200 })) * 1000;
      process.stdout.write(`${JSON.stringify({ bench: 'kernels-call', backend: name, T, shape: [T, 128, 512], us: round(us), tfjsWasmUs: round(anchorUs), ratio: round(anchorUs / us) })}\n`);
    }
  } finally {
    be.dispose();
  }
}
