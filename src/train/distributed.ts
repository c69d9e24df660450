import { errors } from '../errors.js';
import type { CharTransformerConfig } from '../models/char-transformer.js';
import { ActorSystem } from '../runtime/system.js';
import type { MoETrainerArgs, StepReport } from '../../actors/moe-trainer.js';

const trainerModule = new URL(`../../actors/moe-trainer${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

export interface DistributedOptions {
  devices: number;
  config: CharTransformerConfig;
  steps: number;
  /** Global batch (sequences); split evenly over devices. */
  batch: number;
  lr: number;
  /** replicas[e] = devices holding expert e; default: expert e on device e mod D. */
  replicas?: number[][];
  backend?: string;
  corpusChars?: number;
  onStep?: (s: DistributedStep) => void;
  /** After training, sample this many characters after `prompt` (every device computes it in lockstep). */
  sample?: { prompt: string; length: number; seed: number };
}

export interface DistributedStep {
  step: number;
  loss: number;
  auxLoss: number;
  /** Per MoE layer, assignments per expert over all devices. */
  expertCounts: number[][];
  stepMs: number;
  tokensPerSec: number;
  /** Milliseconds each device spent in its step (busy time). */
  deviceMs: number[];
}

/**
 * Trains GPT-MoE across `devices` worker threads: one trainer actor per device, data parallel for
 * the dense parts, experts where `replicas` puts them, tokens moved by all-to-all over
 * SharedArrayBuffer channels. Same seed, same losses, whatever the device count or placement
 * (up to float32 summation order).
 */
export async function trainDistributed(opts: DistributedOptions): Promise<DistributedStep[]> {
  return (await trainDistributedWithSample(opts)).history;
}

export async function trainDistributedWithSample(opts: DistributedOptions): Promise<{ history: DistributedStep[]; sample: string }> {
  const { devices, config, batch } = opts;
  const experts = config.moe?.experts ?? 0;
  if (!config.moe) throw errors.badArgument('trainDistributed', 'the model has no MoE layers (config.moe)');
  if (batch % devices !== 0) throw errors.badArgument('trainDistributed', `global batch ${batch} does not split over ${devices} devices`);
  if (devices > experts * 8) throw errors.badArgument('trainDistributed', `${devices} devices for ${experts} experts: more devices than experts allow`);
  const replicas = opts.replicas ?? Array.from({ length: experts }, (_, e) => [e % devices]);
  if (replicas.length !== experts || replicas.some((r) => !r.length || r.some((d) => d < 0 || d >= devices))) {
    throw errors.badArgument('trainDistributed', `replicas must list 1+ valid devices for each of ${experts} experts`);
  }
  const system = await ActorSystem.start({ devices, modules: [trainerModule], askTimeoutMs: 120_000 });
  try {
    const args: MoETrainerArgs = { config, replicas, batch, steps: opts.steps, lr: opts.lr, backend: opts.backend ?? 'gpujs-webasm', corpusChars: opts.corpusChars };
    const trainers = await Promise.all([...Array(devices).keys()].map((d) => system.spawn('MoETrainer', args, { device: d })));
    const history: DistributedStep[] = [];
    for (let step = 0; step < opts.steps; step++) {
      const t0 = performance.now();
      const reports = await Promise.all(trainers.map((t) => system.ask<StepReport>(t, { type: 'step', step })));
      const stepMs = performance.now() - t0;
      const counts = reports[0]!.expertCounts.map((layer, l) => layer.map((_, e) => reports.reduce((s, r) => s + r.expertCounts[l]![e]!, 0)));
      const s: DistributedStep = {
        step, loss: reports[0]!.loss, auxLoss: reports[0]!.auxLoss, expertCounts: counts, stepMs,
        tokensPerSec: (batch * config.seq * 1000) / stepMs, deviceMs: reports.map((r) => r.computeMs),
      };
      history.push(s);
      opts.onStep?.(s);
    }
    let sample = '';
    if (opts.sample) sample = (await Promise.all(trainers.map((t) => system.ask<string>(t, { type: 'generate', ...opts.sample }))))[0]!;
    return { history, sample };
  } finally {
    await system.stop();
  }
}
