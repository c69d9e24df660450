// A sampling pass of the serving demo language model (d 64, 2 layers, 8 experts of width 512,
// top-1, sequence 32) in one thread on the default backend: logits at one position per sequence
// through `forwardAt` (the last block, final norm and head on those rows only: what a served model
// runs now) against the whole `forward` and picking the rows afterwards (what it ran before).
// Interleaved rounds, medians. Prints one JSON line per batch size. Usage: npx tsx bench/sample-pass.ts [--quick]
import { demoLanguageConfig } from '../examples/service/demo.js';
import { createBackend, defaultBackendName } from '../src/kernels/backend.js';
import { CharTransformer } from '../src/models/char-transformer.js';
import { Tensor } from '../src/tensor/tensor.js';
import { interleaved, round } from './harness.js';

const quick = process.argv.includes('--quick');
const be = await createBackend(await defaultBackendName());
const base = demoLanguageConfig();
const config = { ...base, moe: { ...base.moe!, capacityFactor: 0, noiseStd: 0 } };
const net = new CharTransformer(be, config);
try {
  for (const batch of [16, 4, 1]) {
    const ids = Tensor.ints(Array.from({ length: batch * config.seq }, (_, i) => (i * 31 + 7) % config.vocab));
    const pick = Array.from({ length: batch }, (_, b) => config.seq - 1 - (b % 5));
    const whole = async () => {
      const logits = await net.forward(ids, batch);
      return pick.map((p, b) => logits.data.slice((b * config.seq + p) * config.vocab, (b * config.seq + p + 1) * config.vocab));
    };
    const at = () => net.forwardAt(ids, batch, pick);
    const t = await interleaved(at, whole, quick ? 3 : 7);
    process.stdout.write(`${JSON.stringify({ bench: 'sample-pass', backend: be.name, batch, seq: config.seq, wholeForwardMs: round(t.slowMs), forwardAtMs: round(t.fastMs), speedup: round(t.speedup) })}\n`);
  }
} finally {
  be.dispose();
}
