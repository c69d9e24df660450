// Each policy's step time against static-unpadded's on the same steps. Under a workload (--routing)
// every policy's gates route each step alike, so step i is the same work under each: comparing the
// same steps takes out what a median over whole runs mixes in (which steps were heavy, how the
// machine's speed moved between runs). Split by whether the policy shadowed that step, so what a
// shadow costs shows apart from the steps that called for one. The live policies plan with the
// model's own calibration (as `flexmoe compare` does); rounds alternate in one process; medians over
// rounds and steps after the warm-up. One JSON line per policy.
// Usage: npx tsx bench/step-pairs.ts [--rounds R] [--steps S] [--warm W] [--policies a,b] [model flags, e.g. --routing zipf:1.5,drift --d-ff 2048]
import { parseArgs } from 'node:util';
import { modelFromFlags } from '../src/cli/model-flags.js';
import type { TaskName } from '../src/models/tasks.js';
import { calibrate } from '../src/sched/calibrate.js';
import { measureModelStep } from '../src/train/calibrate-step.js';
import { trainDistributed } from '../src/train/distributed.js';
import { cpuModel } from './expert-steps.js';
import { median, round } from './harness.js';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, steps: { type: 'string' }, warm: { type: 'string' }, policies: { type: 'string' }, routing: { type: 'string' }, 'd-ff': { type: 'string' }, experts: { type: 'string' }, topk: { type: 'string' } } });
const { rounds: r, steps: s, warm: w, policies: p, ...modelFlags } = values;
const rounds = Number(r ?? 3), steps = Number(s ?? 120), warm = Number(w ?? 40), devices = 2;
const policies = (p ?? 'flexmoe-react,fastermoe').split(',');
const { model, modules, config, batch, lr } = await modelFromFlags({ routing: 'zipf:1.5,drift', ...modelFlags });
const task = model as TaskName, slots = 2 * Math.ceil(config.moe!.experts / devices);
const base = await calibrate({ dModel: config.dModel, dFF: config.dFF, devices });
const fit = await measureModelStep(base, { task, modules, config, devices, batch, slots, lr });
const profile = { ...base, expertTflops: fit.expertTflops, expertCallMs: fit.expertCallMs, expertHeldMs: fit.expertHeldMs, unmodelledMs: fit.unmodelledMs };
type Step = { ms: number; shadowed: boolean };
const runs = new Map<string, Step[][]>([['static-unpadded', []], ...policies.map((x) => [x, []] as [string, Step[][]])]);
for (let k = 0; k < rounds; k++) {
  const order = [...runs.keys()];
  for (const policy of k % 2 ? order.reverse() : order) {
    const h = await trainDistributed({ task, modules, devices, config, steps, batch, lr, slots, policy, profile });
    runs.get(policy)!.push(h.map((x) => ({ ms: x.stepMs, shadowed: x.shadows.some((l) => l.length > 0) })));
  }
}
const cpu = cpuModel(), base0 = runs.get('static-unpadded')!;
for (const policy of policies) {
  const mine = runs.get(policy)!;
  // A step counts as shadowed where the policy shadowed it in most rounds.
  const shadowed = (i: number) => mine.filter((h) => h[i]!.shadowed).length * 2 > mine.length;
  const idx = [...Array(steps).keys()].filter((i) => i >= warm);
  const part = (keep: (i: number) => boolean) => {
    const at = idx.filter(keep);
    if (!at.length) return { steps: 0 };
    const ms = (hs: Step[][]) => median(hs.flatMap((h) => at.map((i) => h[i]!.ms)));
    const ratios = at.flatMap((i) => mine.map((h, k) => base0[k]![i]!.ms / h[i]!.ms));
    return { steps: at.length, ms: round(ms(mine)), staticUnpaddedMs: round(ms(base0)), speedup: round(median(ratios)) };
  };
  process.stdout.write(`${JSON.stringify({ bench: 'step-pairs', cpu, policy, rounds, steps, warm, flags: modelFlags, shadowed: part(shadowed), plain: part((i) => !shadowed(i)), all: part(() => true) })}\n`);
}
process.exit(0);
