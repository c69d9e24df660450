// One expert's training step (forward, then backward) on wasm-simd at few rows, over eight experts
// in turn: its two input-gradient products (dY·W2ᵀ, dH·W1ᵀ, the nt form) as dot products of rows
// with the weight read in place (simd/dot.ts) against packing all of the weight into 8-column
// panels first (simd/gemm.ts). Alternating, in one process; picks the most rows the dot products
// take (matmulLayout.dotRows). Usage: npx tsx bench/dot-rows.ts [--quick] [--d-ff F]
import { execSync } from 'node:child_process';
import { Tape } from '../src/autograd/tape.js';
import { createBackend } from '../src/kernels/backend.js';
import { matmulLayout } from '../src/kernels/wasm/matmul.js';
import { ExpertRunner } from '../src/moe/expert-runner.js';
import { FFNExpert } from '../src/moe/experts.js';
import { Rng } from '../src/nn/random.js';
import { Arena } from '../src/tensor/arena.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { interleaved, round } from './harness.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const at = args.indexOf('--d-ff');
const dModel = 64, dFF = at >= 0 ? Number(args[at + 1]) : 2048;
const rowsList = quick ? [4, 32] : [1, 4, 8, 16, 24, 32, 64];
const be = await createBackend('wasm-simd');
const runners = Array.from({ length: 8 }, (_, i) => new ExpertRunner(be, new FFNExpert(be, { name: `expert${i}`, dModel, dFF, rng: new Rng(i + 1) })));
const chosen = matmulLayout.dotRows;
let cpu = '';
try {
  cpu = execSync("lscpu | sed -n 's/^Model name: *//p'").toString().trim();
} catch {}
let pass = 0, turn = 0;
const arena = new Arena();
for (const rows of rowsList) {
  const x = Tensor.zeros([rows, dModel]) as F32;
  for (let i = 0; i < x.size; i++) x.data[i] = Math.sin(i * 12.9898) * 0.5;
  const step = () => arena.use(async () => {
    const runner = runners[turn++ % 8]!, p = pass++;
    let y: F32 | undefined;
    await new Tape(be).run(async () => void (y = await runner.forward(x, p)));
    await runner.backward(y!, p);
  });
  const dot = () => ((matmulLayout.dotRows = Infinity), step());
  const panels = () => ((matmulLayout.dotRows = 0), step());
  const r = await interleaved(dot, panels, quick ? 3 : 7);
  process.stdout.write(`${JSON.stringify({ bench: 'dot-rows', cpu, dModel, dFF, rows, dotMs: round(r.fastMs), panelsMs: round(r.slowMs), speedup: round(r.speedup), dotRows: chosen })}\n`);
}
matmulLayout.dotRows = chosen;
be.dispose();
