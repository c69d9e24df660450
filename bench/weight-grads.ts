// One expert's training step (forward, then backward) at buffer sizes from a few rows to a hot
// expert's, on wasm-simd, over eight experts in turn (as a device computes its experts' buffers,
// each one's weights cold from the others'): weight gradients summed by the product's own kernel
// into the parameters' resident gradients (Tape.sink, matmulAccumulate) against the path before,
// where the tape returned each weight gradient as a tensor of its own, copied out of the kernel
// module, and a second kernel added it in. Each step's scratch tensors come from an arena, as in
// training. Alternating, in one process. Usage:
// npx tsx bench/weight-grads.ts [--quick] [--d-ff F]
import { execSync } from 'node:child_process';
import { Tape } from '../src/autograd/tape.js';
import { createBackend } from '../src/kernels/backend.js';
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
const rowsList = quick ? [4, 64] : [4, 16, 64, 256];
const be = await createBackend('wasm-simd');
const experts = Array.from({ length: 8 }, (_, i) => new FFNExpert(be, { name: `expert${i}`, dModel, dFF, rng: new Rng(i + 1) }));
const runners = experts.map((e) => new ExpertRunner(be, e));
let cpu = '';
try {
  cpu = execSync("lscpu | sed -n 's/^Model name: *//p'").toString().trim();
} catch {}
let pass = 0, turn = 0;
const arena = new Arena();
for (const rows of rowsList) {
  const x = Tensor.zeros([rows, dModel]) as F32;
  for (let i = 0; i < x.size; i++) x.data[i] = Math.sin(i * 12.9898) * 0.5;
  /** Now: the runner sinks its parameters on its tape. */
  const sunk = () => arena.use(async () => {
    const runner = runners[turn++ % 8]!, p = pass++;
    let y: F32 | undefined;
    await new Tape(be).run(async () => void (y = await runner.forward(x, p)));
    await runner.backward(y!, p);
  });
  /** Before: each weight gradient a tensor the tape returns, then added into the parameter's. */
  const returned = () => arena.use(async () => {
    const expert = experts[turn++ % 8]!, params = expert.parameters();
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
