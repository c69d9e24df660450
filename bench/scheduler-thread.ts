// Where the scheduler actor runs, and what a training device pays for it: FlexMoE on 2 devices with
// the scheduler on a service device of its own (`own`) against the same run with it on
// the last training device (`last`), alternating in the same process. Reports the median step time
// of the device the scheduler would share (device 1) and the whole step, after a warm-up.
// Usage: npx tsx bench/scheduler-thread.ts [--steps N] [--rounds R]
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import type { CharTransformerConfig } from '../src/models/char-transformer.js';
import { calibrate } from '../src/sched/calibrate.js';
import { trainDistributed } from '../src/train/distributed.js';
import { median, round } from './harness.js';
import { cpus } from 'node:os';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const steps = flag('--steps', 40), rounds = flag('--rounds', 3);
const warm = Math.min(10, Math.floor(steps / 4));
const corpus = new CharCorpus(mobyDick());
// Wide experts and a lasting skew, so the scheduler has work: FlexMoE plans and re-plans (the
// configuration docs/benchmarks.md uses for live FlexMoE), on this machine's calibrated profile.
const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 32, dModel: 64, heads: 4, dFF: 2048, layers: 2, seed: 1, moe: { experts: 8, topk: 1, auxCoef: 0.01, routing: 'zipf:2,drift' } };
const profile = await calibrate({ dModel: config.dModel, dFF: config.dFF, devices: 2 });
const samples: Record<'own' | 'last', { device: number[]; step: number[]; plans: number }> = { own: { device: [], step: [], plans: 0 }, last: { device: [], step: [], plans: 0 } };
for (let r = 0; r < rounds; r++) {
  for (const thread of ['own', 'last'] as const) {
    let plans = 0;
    const h = await trainDistributed({ devices: 2, config, steps, batch: 16, lr: 8e-3, policy: 'flexmoe', profile, slots: 5, schedulerThread: thread, onRebalance: () => plans++ });
    samples[thread].device.push(median(h.slice(warm).map((s) => s.deviceMs[1]!)));
    samples[thread].step.push(median(h.slice(warm).map((s) => s.stepMs)));
    samples[thread].plans += plans;
  }
}
const line = (thread: 'own' | 'last') => ({ deviceMs: round(median(samples[thread].device)), stepMs: round(median(samples[thread].step)), plans: samples[thread].plans });
process.stdout.write(`${JSON.stringify({ bench: 'scheduler-thread', cpu: cpus()[0]?.model ?? '?', devices: 2, steps, rounds, own: line('own'), last: line('last'), deviceMsLastOverOwn: round(median(samples.last.device) / median(samples.own.device)) })}\n`);
