// Tokens/s of the GPT-MoE demo (the npm start model): in one process, and on 1 and 2 devices
// (worker threads, static round-robin expert placement), measured in the same run.
// Median step time after a warm-up. Usage: npx tsx bench/train.ts [--steps N]
import { createDefaultBackend } from '../src/kernels/backend.js';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import { CharTransformer, type CharTransformerConfig } from '../src/models/char-transformer.js';
import { trainCharLM } from '../src/train/lm.js';
import { trainDistributed } from '../src/train/distributed.js';
import { median, round } from './harness.js';

const arg = process.argv.indexOf('--steps');
const steps = arg > 0 ? Number(process.argv[arg + 1]) : 40;
const warm = Math.min(10, Math.floor(steps / 4));
const corpus = new CharCorpus(mobyDick());
const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 32, dModel: 64, heads: 4, dFF: 128, layers: 2, seed: 1, moe: { experts: 4, topk: 2, auxCoef: 0.01 } };
const batch = 16, lr = 8e-3, tokensPerStep = batch * config.seq;

const be = await createDefaultBackend();
const single = await trainCharLM(be, new CharTransformer(be, config), corpus, { steps, batch, lr, seed: config.seed });
be.dispose();
const lines: { placement: string; devices: number; stepMs: number[]; loss: number[]; exchange?: number[] }[] = [{ placement: 'one process', devices: 1, stepMs: single.history.map((s) => s.stepMs), loss: single.history.map((s) => s.loss) }];
for (const devices of [1, 2]) {
  const h = await trainDistributed({ devices, config, steps, batch, lr });
  // Share of each device's step spent in exchanges (moving data, waiting for the other device).
  const exchange = h.map((s) => Math.max(...s.deviceExchangeMs.map((x, d) => x / s.deviceMs[d]!)));
  lines.push({ placement: 'static', devices, stepMs: h.map((s) => s.stepMs), loss: h.map((s) => s.loss), exchange });
}
const base = median(lines[1]!.stepMs.slice(warm));
for (const l of lines) {
  const ms = median(l.stepMs.slice(warm));
  process.stdout.write(`${JSON.stringify({ bench: 'train', model: 'gpt-moe', placement: l.placement, devices: l.devices, steps, tokensPerSec: Math.round((tokensPerStep * 1000) / ms), stepMs: round(ms), overOneDevice: round(base / ms), firstLoss: round(l.loss[0]!, 5), lastLoss: round(l.loss.at(-1)!, 5), ...(l.exchange ? { exchangeShare: round(median(l.exchange.slice(warm))) } : {}) })}\n`);
}
