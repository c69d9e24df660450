// Causal attention's three batched products, forward and backward as the attention layer issues
// them, on the default backend: with the causal mask's zero weights skipped (what the kernels do
// now) against the same calls with P·V and its transposes summing every row (what they did before:
// the same inputs, `causal: false` for those two products only). Interleaved rounds, medians.
// Prints one JSON line per shape. Usage: npx tsx bench/attention.ts [--quick]
import { createBackend, defaultBackendName } from '../src/kernels/backend.js';
import type { AttentionShape } from '../src/kernels/types.js';
import { Rng } from '../src/nn/random.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { median, round, timeAsync } from './harness.js';

const quick = process.argv.includes('--quick');
const be = await createBackend(await defaultBackendName());
const rng = new Rng(1);
const rand = (shape: number[]) => {
  const t = Tensor.zeros(shape) as F32;
  for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * 0.1;
  return t;
};
// The npm start model's attention per device (batch 16, seq 32, d 64, 4 heads), and a longer sequence.
const shapes: AttentionShape[] = [
  { batch: 16, seq: 32, heads: 4, causal: true, scale: 0.25 },
  { batch: 4, seq: 128, heads: 4, causal: true, scale: 0.25 },
];
try {
  for (const s of shapes) {
    const W = 64, rows = s.batch * s.seq;
    const q = rand([rows, W]), k = rand([rows, W]), v = rand([rows, W]), dCtx = rand([rows, W]);
    const ops = be.ops;
    const step = (skip: boolean) => async () => {
      const full = skip ? s : { ...s, causal: false };
      const p = await ops.softmax(await ops.attentionScores(q, k, s));
      await ops.attentionApply(p, v, full);
      const dS = await ops.softmaxBackward(p, await ops.attentionScores(dCtx, v, { ...s, causal: false, scale: 1 }));
      await ops.attentionApply(dS, k, full);
      await ops.attentionApplyT(dS, q, full);
      await ops.attentionApplyT(p, dCtx, full);
    };
    const skipped: number[] = [], summed: number[] = [];
    for (let r = 0; r < (quick ? 3 : 7); r++) {
      skipped.push(await timeAsync(step(true), { minMs: quick ? 100 : 300 }));
      summed.push(await timeAsync(step(false), { minMs: quick ? 100 : 300 }));
    }
    const a = median(skipped), b = median(summed);
    process.stdout.write(`${JSON.stringify({ bench: 'attention', backend: be.name, ...s, skipZerosMs: round(a), sumAllMs: round(b), speedup: round(b / a) })}\n`);
  }
} finally {
  be.dispose();
}
