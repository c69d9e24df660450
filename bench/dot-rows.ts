// One expert's training step (forward, then backward) on wasm-simd at few rows, over eight experts
// in turn: its two input-gradient products (dY·W2ᵀ, dH·W1ᵀ, the nt form) as dot products of rows
// with the weight read in place (simd/dot.ts) against packing all of the weight into 8-column
// panels first (simd/gemm.ts). Alternating, in one process; picks the most rows the dot products
// take (matmulLayout.dotRows). Usage: npx tsx bench/dot-rows.ts [--quick] [--d-ff F]
import { createBackend } from '../src/kernels/backend.js';
import { matmulLayout } from '../src/kernels/wasm/matmul.js';
import { cpuModel, ExpertSteps } from './expert-steps.js';
import { interleaved, round } from './harness.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const at = args.indexOf('--d-ff');
const dModel = 64, dFF = at >= 0 ? Number(args[at + 1]) : 2048;
const rowsList = quick ? [4, 32] : [1, 4, 8, 16, 24, 32, 64];
const be = await createBackend('wasm-simd');
const steps = new ExpertSteps(be, dModel, dFF);
const chosen = matmulLayout.dotRows, cpu = cpuModel();
for (const rows of rowsList) {
  const x = steps.input(rows);
  const dot = () => ((matmulLayout.dotRows = Infinity), steps.step(x));
  const panels = () => ((matmulLayout.dotRows = 0), steps.step(x));
  const r = await interleaved(dot, panels, quick ? 3 : 7);
  process.stdout.write(`${JSON.stringify({ bench: 'dot-rows', cpu, dModel, dFF, rows, dotMs: round(r.fastMs), panelsMs: round(r.slowMs), speedup: round(r.speedup), dotRows: chosen })}\n`);
}
matmulLayout.dotRows = chosen;
be.dispose();
