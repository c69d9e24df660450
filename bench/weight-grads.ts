// One expert's training step (forward, then backward) at buffer sizes from a few rows to a hot
// expert's, on wasm-simd, over eight experts in turn (as a device computes its experts' buffers,
// each one's weights cold from the others'): weight gradients summed by the product's own kernel
// into the parameters' resident gradients (Tape.sink, matmulAccumulate) against the path before,
// where the tape returned each weight gradient as a tensor of its own, copied out of the kernel
// module, and a second kernel added it in. Each step's scratch tensors come from an arena, as in
// training. Alternating, in one process. Usage:
// npx tsx bench/weight-grads.ts [--quick] [--d-ff F]
import { Tape } from '../src/autograd/tape.js';
import { createBackend } from '../src/kernels/backend.js';
import { cpuModel, ExpertSteps } from './expert-steps.js';
import { interleaved, round } from './harness.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const at = args.indexOf('--d-ff');
const dModel = 64, dFF = at >= 0 ? Number(args[at + 1]) : 2048;
const rowsList = quick ? [4, 64] : [4, 16, 64, 256];
const be = await createBackend('wasm-simd');
const steps = new ExpertSteps(be, dModel, dFF);
const cpu = cpuModel();
for (const rows of rowsList) {
  const x = steps.input(rows);
  /** Now: the runner sinks its parameters on its tape. */
  const sunk = () => steps.step(x);
  /** Before: each weight gradient a tensor the tape returns, then added into the parameter's. */
  const returned = () => steps.next(async (expert) => {
    const params = expert.parameters();
    const tape = new Tape(be);
    tape.watch(x, ...params.map((q) => q.value));
    const y = await tape.run(() => expert.forward(x));
    const grads = await tape.backward([[y, y]]);
    for (const q of params) {
      const g = grads.get(q.value);
      if (g) await q.accumulateOn(be, g);
    }
  });
  const r = await interleaved(sunk, returned, quick ? 3 : 7);
  process.stdout.write(`${JSON.stringify({ bench: 'weight-grads', cpu, dModel, dFF, rows, ms: round(r.fastMs), beforeMs: round(r.slowMs), speedup: round(r.speedup) })}\n`);
}
be.dispose();
