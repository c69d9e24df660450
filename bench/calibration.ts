// What the model calibration (src/train/calibrate-step.ts) rests on, measured in one process on
// one model (default: d_ff 2048, 8 experts, top-1, 2 devices, uniform routing; the flags below
// override it), alternating rounds, medians after 40 warm-up steps:
//  - expert cost: the line through the full and quarter-batch runs (the fit before wide runs)
//    against the wide run's (one expert per device, same rows) measured expert time;
//  - what holding an expert costs a device: the fit from the full and wide runs (expertHeldMs)
//    against round-robin with one expert replicated on both devices in every layer, measured as
//    the second device's time outside its experts and exchanges, per replica;
//  - what a buffer more costs: the one-thread probe calibrate uses (expertStepCost, its per-call
//    part) against the same two placements, whose rows are the same and whose replicated one
//    computes one buffer more per layer: the devices' summed expert time, per replica.
// Prints one JSON line. Usage: npx tsx bench/calibration.ts [--rounds R] [--d-ff F] [--d-model D] [--experts E] [--topk K]
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { modelFromFlags } from '../src/cli/model-flags.js';
import type { TaskName } from '../src/models/tasks.js';
import { calibrationRun, type CalibrationRun } from '../src/train/calibrate-step.js';
import { createBackend, defaultBackendName } from '../src/kernels/backend.js';
import { expertStepCost } from '../src/sched/calibrate.js';
import { trainDistributed } from '../src/train/distributed.js';
import { median, round } from './harness.js';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, 'd-ff': { type: 'string' }, 'd-model': { type: 'string' }, experts: { type: 'string' }, topk: { type: 'string' } } });
const { rounds: roundsFlag, ...modelFlags } = values;
const rounds = Number(roundsFlag ?? 2);
const { model, modules, config: given, batch, lr } = await modelFromFlags({ 'd-ff': '2048', experts: '8', topk: '1', ...modelFlags, routing: 'zipf:0' });
const task = model as TaskName, devices = 2, steps = 120, warm = 40;
const config = { ...given, moe: { ...given.moe!, routing: 'zipf:0' } };
const E = config.moe.experts;
const opts = { task, modules, config, devices, batch, steps: steps - warm, warm };

const runs: Record<CalibrationRun['size'], CalibrationRun[]> = { full: [], wide: [], quarter: [], replicated: [] };
const otherMs: Record<'roundRobin' | 'replicated', number[]> = { roundRobin: [], replicated: [] };
const expertMs: Record<'roundRobin' | 'replicated', number[]> = { roundRobin: [], replicated: [] };
const probes: number[] = [];
const roundRobin = Array.from({ length: E }, (_, e) => [e % devices]);
const placements = { roundRobin, replicated: roundRobin.map((r, e) => (e === 0 ? [0, 1] : r)) };
let layers = 0;
for (let r = 0; r < rounds; r++) {
  for (const size of (r % 2 ? ['quarter', 'wide', 'full'] : ['full', 'wide', 'quarter']) as CalibrationRun['size'][]) runs[size].push(await calibrationRun(opts, size));
  for (const name of (r % 2 ? ['replicated', 'roundRobin'] : ['roundRobin', 'replicated']) as (keyof typeof placements)[]) {
    const h = (await trainDistributed({ task, modules, devices, config, steps, batch, lr, slots: 2 * Math.ceil(E / devices), policy: 'static-unpadded', replicas: placements[name] })).slice(warm);
    layers = h[0]!.expertCounts.length;
    // Device 1 holds the replica: its time outside its experts and exchanges.
    otherMs[name].push(median(h.map((s) => s.deviceMs[1]! - s.deviceExchangeMs[1]! - s.deviceExpertMs[1]!)));
    expertMs[name].push(median(h.map((s) => s.deviceExpertMs.reduce((a, b) => a + b, 0))));
  }
  const be = await createBackend(await defaultBackendName());
  probes.push((await expertStepCost(be, config.dModel, config.dFF)).callMs);
  be.dispose();
}
const of = (size: CalibrationRun['size'], k: 'expertMs' | 'rows' | 'buffers' | 'otherMs' | 'held') => median(runs[size].map((x) => x[k]));
/** The line expertMs = msPerRow × rows + callMs × buffers through the full and quarter runs, evaluated at the wide run. */
const quarterLineAtWide = () => {
  const [a, b] = [{ ms: of('full', 'expertMs'), rows: of('full', 'rows'), buffers: of('full', 'buffers') }, { ms: of('quarter', 'expertMs'), rows: of('quarter', 'rows'), buffers: of('quarter', 'buffers') }];
  const det = a.rows * b.buffers - b.rows * a.buffers;
  const perRow = (a.ms * b.buffers - b.ms * a.buffers) / det, perBuffer = (a.rows * b.ms - b.rows * a.ms) / det;
  return perRow * of('wide', 'rows') + perBuffer * of('wide', 'buffers');
};
const heldFit = (of('full', 'otherMs') - of('wide', 'otherMs')) / (of('full', 'held') - of('wide', 'held'));
const perReplica = (median(otherMs.replicated) - median(otherMs.roundRobin)) / layers;
const bufferPerReplica = (median(expertMs.replicated) - median(expertMs.roundRobin)) / layers;
let cpu = '';
try {
  cpu = execSync("lscpu | sed -n 's/^Model name: *//p'").toString().trim();
} catch {}
process.stdout.write(`${JSON.stringify({
  bench: 'calibration', dFF: config.dFF, experts: E, devices, steps, warm, rounds,
  wideExpertMs: round(of('wide', 'expertMs')), fullQuarterLineAtWideMs: round(quarterLineAtWide()),
  expertHeldMsFit: round(heldFit), replicaOtherMs: round(perReplica),
  expertCallMsProbe: round(median(probes)), replicaBufferMs: round(bufferPerReplica), otherMs: { roundRobin: otherMs.roundRobin.map((x) => round(x)), replicated: otherMs.replicated.map((x) => round(x)) }, cpu,
})}\n`);
process.exit(0);
