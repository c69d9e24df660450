// The bias add of the wasm-simd backend: four lanes at a time in WebAssembly (gemm.wat, what the
// backend runs now) against the typed-array loop it ran before (the reference kernel), on the same
// float32 inputs, at the shapes an expert and a dense layer add biases to. Interleaved rounds,
// medians. One JSON line per shape. Usage: npx tsx bench/bias.ts [--quick]
import { createBackend } from '../src/kernels/backend.js';
import { biasAdd } from '../src/kernels/reference/bias.js';
import { Rng } from '../src/nn/random.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { interleaved, round } from './harness.js';

const quick = process.argv.includes('--quick');
const be = await createBackend('wasm-simd');
const rng = new Rng(3);
const rand = (shape: number[]) => {
  const t = Tensor.zeros(shape) as F32;
  for (let i = 0; i < t.size; i++) t.data[i] = rng.normal();
  return t;
};
try {
  // An expert's first layer at 256 rows (d_ff 512), a dense projection, one served row's worth.
  for (const [R, C] of [[256, 512], [512, 64], [16, 512]] as const) {
    const x = rand([R, C]), b = rand([C]);
    const simd = () => be.ops.biasAdd(x, b);
    const loop = () => biasAdd.run({} as never, x, b);
    const a = await simd(), want = loop() as F32;
    if (a.data.some((v, i) => v !== want.data[i])) throw new Error('SIMD bias add differs from the loop');
    const t = await interleaved(simd, loop, quick ? 3 : 7);
    process.stdout.write(`${JSON.stringify({ bench: 'bias', rows: R, cols: C, simdMs: round(t.fastMs), loopMs: round(t.slowMs), speedup: round(t.speedup), identical: true })}\n`);
  }
} finally {
  be.dispose();
}
