/**
 * Demo checkpoints for the service and its benchmark, trained on the spot when none is given.
 * The language model is the serving benchmark's: 8 experts per layer, top-1, FFN experts 8× wider
 * than the model (so experts are most of a forward pass), and the router's load-balancing loss at
 * 0.001 (ST-MoE's coefficient), which leaves routing as skewed as real routers often are.
 */
import { existsSync } from 'node:fs';
import { CharCorpus, mobyDick, trainDistributed, type CharTransformerConfig, type VisionMoEConfig } from 'flexmoe';

export function demoLanguageConfig(): CharTransformerConfig {
  const vocab = new CharCorpus(mobyDick()).vocab.size;
  return { vocab, seq: 32, dModel: 64, heads: 4, dFF: 512, layers: 2, seed: 1, moe: { experts: 8, topk: 1, auxCoef: 0.001 } };
}

export const demoVisionConfig: VisionMoEConfig = { patch: 4, dModel: 32, heads: 2, dFF: 64, layers: 1, classes: 10, seed: 1, moe: { experts: 4, topk: 2 } };

/** Trains the demo language model into `path` unless a checkpoint is already there. */
export async function demoLanguageCheckpoint(path: string, steps = 300, log: (s: string) => void = () => {}): Promise<string> {
  if (existsSync(path)) return path;
  log(`training the demo language model (${steps} steps, 2 devices) into ${path} …`);
  const h = await trainDistributed({ devices: 2, config: demoLanguageConfig(), steps, batch: 16, lr: 3e-3, checkpoint: path });
  log(`loss ${h[0]!.loss.toFixed(3)} → ${h.at(-1)!.loss.toFixed(3)}`);
  return path;
}

/** Trains the demo vision model into `path` unless a checkpoint is already there. */
export async function demoVisionCheckpoint(path: string, steps = 100, log: (s: string) => void = () => {}): Promise<string> {
  if (existsSync(path)) return path;
  log(`training the demo vision model (${steps} steps, 2 devices) into ${path} …`);
  const h = await trainDistributed({ devices: 2, task: 'vision-moe', config: demoVisionConfig, steps, batch: 16, lr: 1e-2, imagesPerDigit: 100, checkpoint: path });
  log(`loss ${h[0]!.loss.toFixed(3)} → ${h.at(-1)!.loss.toFixed(3)}`);
  return path;
}
