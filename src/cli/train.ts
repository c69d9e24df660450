import { createBackend, defaultBackendName } from '../kernels/backend.js';
import { CharCorpus, mobyDick } from '../data/corpus.js';
import { CharTransformer } from '../models/char-transformer.js';
import { generate, trainCharLM } from '../train/lm.js';
import { Progress } from '../train/progress.js';
import { intFlag, numberFlag, type Flags } from './args.js';

export const trainHelp = `flexmoe train [--steps N] [--seed S] [--batch B] [--seq L] [--d-model D] [--layers N] [--heads H]
              [--lr X] [--backend NAME] [--sample N] [--json]
  Trains a character-level transformer on the embedded corpus (Moby-Dick), then prints a sample.`;

/** `flexmoe train`: the main job on its embedded default. */
export async function train(flags: Flags): Promise<void> {
  const backendName = typeof flags.backend === 'string' ? flags.backend : await defaultBackendName();
  const be = await createBackend(backendName);
  try {
    const json = flags.json === true;
    const corpus = new CharCorpus(mobyDick());
    const dModel = intFlag(flags, 'd-model', 64, 4);
    const model = new CharTransformer(be, {
      vocab: corpus.vocab.size,
      seq: intFlag(flags, 'seq', 32, 2),
      dModel,
      heads: intFlag(flags, 'heads', 4, 1),
      dFF: 4 * dModel,
      layers: intFlag(flags, 'layers', 2, 1),
      seed: intFlag(flags, 'seed', 1),
    });
    const steps = intFlag(flags, 'steps', 300, 1);
    const batch = intFlag(flags, 'batch', 16, 1);
    const log = (s: string) => (json ? undefined : process.stderr.write(`${s}\n`));
    log(`flexmoe: dense char transformer, ${model.parameterCount()} parameters, vocab ${corpus.vocab.size}, backend ${be.name}`);
    const progress = json ? null : new Progress(steps);
    let tokens = 0, ms = 0;
    const { history, evalLoss } = await trainCharLM(be, model, corpus, {
      steps, batch, lr: numberFlag(flags, 'lr', 8e-3), seed: model.config.seed,
      onStep: (s) => {
        tokens += batch * model.config.seq;
        ms += s.stepMs;
        if (json) process.stdout.write(`${JSON.stringify({ step: s.step, loss: round(s.loss), tokensPerSec: Math.round(s.tokensPerSec) })}\n`);
        else progress!.update(s, (tokens * 1000) / ms);
      },
    });
    const sampleLength = intFlag(flags, 'sample', 200);
    const sample = sampleLength > 0 ? await generate(be, model, corpus, 'Call me Ishmael. ', sampleLength, { seed: model.config.seed }) : '';
    const summary = { firstLoss: round(history[0]!.loss), lastLoss: round(history.at(-1)!.loss), evalLoss: round(evalLoss), tokensPerSec: Math.round((tokens * 1000) / ms), steps, backend: be.name };
    if (json) process.stdout.write(`${JSON.stringify({ summary, sample })}\n`);
    else {
      log(`loss ${summary.firstLoss} → ${summary.lastLoss} (held-out ${summary.evalLoss}), ${summary.tokensPerSec} tokens/s`);
      process.stdout.write(`\n--- sample ---\nCall me Ishmael. ${sample}\n`);
    }
  } finally {
    be.dispose();
  }
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;
