// Causal multi-head attention forward and backward, as the attention layer issues its kernel calls
// (scores, softmax, P·V; then dP, the softmax backward, dQ, dK, dV), on the default backend against
// the same attention built from tfjs-backend-wasm ops with tf.grads, in the same process, in
// alternating rounds. GFLOP/s counts the six S×S×D products of a step in full (12·B·H·S²·D), for
// both sides, so the ratio is the speed ratio. One JSON line per shape.
// Usage: npx tsx bench/attention.ts [--quick]
import { createBackend, defaultBackendName } from '../src/kernels/backend.js';
import type { AttentionShape } from '../src/kernels/types.js';
import { Rng } from '../src/nn/random.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { median, round, timeAsync } from './harness.js';
import { tfjsAnchor } from './tfjs-anchor.js';

const quick = process.argv.includes('--quick');
const be = await createBackend(await defaultBackendName());
const tfjs = await tfjsAnchor();
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
    const W = 64, D = W / s.heads, rows = s.batch * s.seq;
    const q = rand([rows, W]), k = rand([rows, W]), v = rand([rows, W]), dCtx = rand([rows, W]);
    const ops = be.ops;
    const ours = async () => {
      const p = await ops.softmax(await ops.attentionScores(q, k, s));
      await ops.attentionApply(p, v, s);
      const dS = await ops.softmaxBackward(p, await ops.attentionScores(dCtx, v, { ...s, causal: false, scale: 1 }));
      await ops.scale(await ops.attentionApply(dS, k, s), s.scale);
      await ops.scale(await ops.attentionApplyT(dS, q, s), s.scale);
      await ops.attentionApplyT(p, dCtx, s);
    };
    const anchor = tfjs.attentionStep(s.batch, s.seq, s.heads, D);
    const a: number[] = [], b: number[] = [];
    for (let r = 0; r < (quick ? 3 : 7); r++) {
      a.push(await timeAsync(ours, { minMs: quick ? 100 : 300 }));
      b.push(await timeAsync(anchor, { minMs: quick ? 100 : 300 }));
    }
    const flop = 12 * s.batch * s.heads * s.seq * s.seq * D;
    const ms = median(a), tfMs = median(b);
    const line = { bench: 'attention', backend: be.name, batch: s.batch, seq: s.seq, heads: s.heads, headDim: D, causal: s.causal, ms: round(ms), gflops: round(flop / ms / 1e6), tfjsWasmMs: round(tfMs), tfjsWasmGflops: round(flop / tfMs / 1e6), ratio: round(tfMs / ms) };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
} finally {
  be.dispose();
}
