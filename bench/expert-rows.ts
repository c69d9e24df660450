// One expert's training step (forward, then backward with its weight gradients summed) per row, at
// buffer sizes from a few rows to a whole hot expert's, on wasm-simd: the matmul's loop order chosen
// per call (it streams the smaller operand, strided operands copied once) against the order it had
// before (four rows of A at a time against all of B, operands read in place), alternating, in one
// process. The cost per row should not grow with the rows: the cost model prices an expert by its
// rows and buffers. Usage: npx tsx bench/expert-rows.ts [--quick] [--d-ff F]
import { cpus } from 'node:os';
import { Tape } from '../src/autograd/tape.js';
import { createBackend } from '../src/kernels/backend.js';
import { matmulLayout } from '../src/kernels/wasm/matmul.js';
import { ExpertRunner } from '../src/moe/expert-runner.js';
import { FFNExpert } from '../src/moe/experts.js';
import { Rng } from '../src/nn/random.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { interleaved, round } from './harness.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const at = args.indexOf('--d-ff');
const dModel = 64, dFF = at >= 0 ? Number(args[at + 1]) : 2048;
const rowsList = quick ? [64, 1024] : [16, 64, 256, 512, 1024, 2048];
const be = await createBackend('wasm-simd');
const runner = new ExpertRunner(be, new FFNExpert(be, { name: 'expert', dModel, dFF, rng: new Rng(1) }));
const cpu = cpus()[0]?.model;
let pass = 0;
for (const rows of rowsList) {
  const x = Tensor.zeros([rows, dModel]) as F32;
  for (let i = 0; i < x.size; i++) x.data[i] = Math.sin(i * 12.9898) * 0.5;
  const step = async () => {
    const p = pass++;
    let y: F32 | undefined;
    await new Tape(be).run(async () => void (y = await runner.forward(x, p)));
    await runner.backward(y!, p);
  };
  const chosen = () => (Object.assign(matmulLayout, { order: 'auto', pack: true }), step());
  const before = () => (Object.assign(matmulLayout, { order: 'rows', pack: false }), step());
  const r = await interleaved(chosen, before, quick ? 2 : 3);
  Object.assign(matmulLayout, { order: 'auto', pack: true });
  process.stdout.write(`${JSON.stringify({ bench: 'expert-rows', cpu, dModel, dFF, rows, usPerRow: round((1e3 * r.fastMs) / rows), beforeUsPerRow: round((1e3 * r.slowMs) / rows), speedup: round(r.speedup) })}\n`);
}
be.dispose();
