// What FlexMoE's live scheduling costs a step when it finds nothing worth moving: the default
// model (`npm start`'s) under `--routing zipf:1.5,drift` on 2 devices, FlexMoE against
// static-unpadded (the same round-robin placement, no scheduler), alternating in one process,
// median step after a warm-up of 40 steps. FlexMoE's re-plans are counted: with none, the placements are the
// same and the difference is the scheduling (the gates' reports, the estimate, the trigger, plans
// that find nothing). Prints one JSON line. Usage: npx tsx bench/scheduler-cost.ts [--rounds R]
import { execSync } from 'node:child_process';
import { modelFromFlags } from '../src/cli/model-flags.js';
import type { TaskName } from '../src/models/tasks.js';
import { calibrate } from '../src/sched/calibrate.js';
import { trainDistributed } from '../src/train/distributed.js';
import { median, round } from './harness.js';

const at = process.argv.indexOf('--rounds');
// Steady state: fresh device threads run their first 30-40 steps slower (JIT tiering, fresh buffers).
const rounds = at > 0 ? Number(process.argv[at + 1]) : 5, steps = 120, warm = 40;
const { model, modules, config, batch, lr } = await modelFromFlags({ routing: 'zipf:1.5,drift' });
const task = model as TaskName;
const profile = await calibrate({ dModel: config.dModel, dFF: config.dFF, devices: 2 });
const policies = ['static-unpadded', 'flexmoe'] as const;
const stepMs: Record<string, number[]> = { 'static-unpadded': [], flexmoe: [] };
let replans = 0;
for (let r = 0; r < rounds; r++) {
  for (const policy of r % 2 ? [...policies].reverse() : policies) {
    const h = await trainDistributed({ task, modules, devices: 2, config, steps, batch, lr, slots: 4, policy, profile });
    stepMs[policy]!.push(median(h.slice(warm).map((s) => s.stepMs)));
    if (policy === 'flexmoe') replans += h.filter((s) => s.replanMs > 0).length;
  }
}
let cpu = '';
try {
  cpu = execSync("lscpu | sed -n 's/^Model name: *//p'").toString().trim();
} catch {}
const m = (p: string) => median(stepMs[p]!);
process.stdout.write(`${JSON.stringify({ bench: 'scheduler-cost', devices: 2, steps, warm, rounds, staticUnpaddedMs: round(m('static-unpadded')), flexmoeMs: round(m('flexmoe')), flexmoeOverStaticUnpadded: round(m('flexmoe') / m('static-unpadded')), flexmoeReplans: replans, roundsMs: { 'static-unpadded': stepMs['static-unpadded']!.map((x) => round(x)), flexmoe: stepMs.flexmoe!.map((x) => round(x)) }, cpu })}\n`);
