import { errors } from '../errors.js';
import { defaultBackendName } from '../kernels/backend.js';
import type { TaskName } from '../models/tasks.js';
import { calibrate } from '../sched/calibrate.js';
import { trainDistributed, type DistributedStep } from '../train/distributed.js';
import { calibrationRun, calibrationSizes, fitModelStep, measureModelStep, type CalibrationRun, type ModelStep } from '../train/calibrate-step.js';
import { checkLivePolicy, isFixedPlacement, runsInScheduler, schedulerHasSpareCore } from '../sched/policies/index.js';
import { schedulerStepMs } from '../../actors/scheduler-replay.js';
import { captured, headroom as headroomOf, median } from '../stats.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CostProfile } from '../sched/cost.js';
import { simulate } from '../sched/simulate.js';
import { TraceSource } from '../sched/trace.js';
import { intFlag, type Flags } from './args.js';
import { modelFromFlags } from './model-flags.js';

export const compareHelp = `flexmoe compare [--model gpt-moe|bert-moe|vision-moe|NAME --module FILE] [model flags as for train]
                [--devices N] [--policies static,static-unpadded,flexmoe,fastermoe,flexmoe-react] [--steps N] [--warm W] [--rounds R]
                [--slots S] [--backend NAME] [--predict] [--json]
  Trains the same model from the same seed once per policy and round, live on worker-thread
  devices, in a different order each round (this machine's speed drifts within a run), and compares
  tokens/s (median step after the first W steps, default min(10, N/4): fresh device threads run
  their first 30-40 steps slower (JIT tiering, fresh buffers), so give --warm 40 of --steps 120 to
  compare steady states; the median over rounds), re-plans, steps that shadowed
  experts, losses, and the experts' compute time: the busiest device's, and how far it is above the
  devices' mean (all a perfect balance could save; with static-unpadded in the list, the headroom
  any placement has on this model and machine is printed from it, with each policy's share of it,
  from its speed-up over static-unpadded within each round, the median over rounds;
  with --predict also the imbalance unskewed routing shows itself, and the headroom beyond it).
  The first policy is the baseline of the ratios. --module FILE may register
  models (registerTask) and placement policies (registerPolicy) of your own to name here. Live
  policies plan with the profile flexmoe calibrate gives with the model's flags (an expert buffer's
  fixed cost timed in one thread, then three short runs with unskewed routing: the experts' cost per
  row, per buffer and per expert held, the time no placement changes; unskewed: uniform draws for --routing, the learned router with no initial
  skew otherwise).
  --predict also replays in the simulator the routing each policy's first run recorded, under that
  policy with the calibrated profile, and sets its predicted step times beside the measured ones, with the
  error of each. A policy the scheduler actor runs also pays that actor's work each step where no
  core is spare for it, timed by replaying the same routing through it in one thread. The experts' costs and the per-layer time that no placement changes
  (attention, norms, head, optimizer) come from calibration runs of the model with unskewed
  routing, at its batch, again with its rows on one expert per device (a quarter of its batch
  where it has no more experts than that), and again with half its experts on every device (what
  a replica costs): one of each per round, in the rotation with the policies' runs, of the same
  length and warm-up (medians over the rounds).`;

const calibrationLabel: Record<CalibrationRun['size'], string> = { full: 'full batch', quarter: 'quarter batch', wide: 'one expert per device', replicated: 'half the experts on every device' };

interface Run {
  policy: string;
  round: number;
  tokensPerSec: number;
  /** Median step time after warm-up (ms). */
  stepMs: number;
  /** Medians after warm-up of the busiest device's expert compute ms, and of its excess over the devices' mean. */
  expertMs: number;
  imbalanceMs: number;
  replans: number;
  shadowedSteps: number;
  lastLoss: number;
  history: DistributedStep[];
}

/** `flexmoe compare`: the built-in live policies side by side on one model, on this machine. */
export async function compareCommand(flags: Flags): Promise<void> {
  const { model, modules, config, batch, lr } = await modelFromFlags(flags);
  if (model === 'dense') throw errors.badArgument('--model', 'the dense model has no experts to place: compare needs an MoE model (gpt-moe, bert-moe, vision-moe or your own)');
  const devices = intFlag(flags, 'devices', 2, 2, 64);
  const policies = (typeof flags.policies === 'string' ? flags.policies : 'static,static-unpadded,flexmoe,fastermoe,flexmoe-react').split(',').filter(Boolean);
  if (policies.length < 2) throw errors.badArgument('--policies', `name at least two policies to compare, got "${policies.join(',')}"`);
  for (const p of policies) checkLivePolicy(p);
  const steps = intFlag(flags, 'steps', 60, 4), rounds = intFlag(flags, 'rounds', 2, 1);
  const warm = intFlag(flags, 'warm', Math.min(10, Math.floor(steps / 4)), 0, steps - 1);
  const experts = config.moe!.experts;
  const slots = intFlag(flags, 'slots', 2 * Math.ceil(experts / devices), 1);
  const backend = typeof flags.backend === 'string' ? flags.backend : await defaultBackendName();
  const json = flags.json === true;
  const log = (s: string) => (json ? undefined : process.stderr.write(`${s}\n`));
  // One profile for every policy: the machine is the same, and so must be what they plan with.
  const predict = flags.predict === true;
  const profile = predict || policies.some((p) => !isFixedPlacement(p)) ? await calibrate({ dModel: config.dModel, dFF: config.dFF, devices, backend }) : undefined;
  const task = model as TaskName;
  // Live policies plan with what `flexmoe calibrate` gives with the model's flags: the experts'
  // cost per row and per buffer on this model, and the time no placement changes.
  let live = profile;
  if (profile && policies.some((p) => !isFixedPlacement(p))) {
    const step = await measureModelStep(profile, { task, modules, config, devices, batch, slots, backend, lr });
    live = { ...profile, ...fittedFields(step) };
    log(`live policies plan with the model's own calibration: ${describeFit(step)}`);
  }
  // With --predict, the calibration runs (unskewed routing, full and wide or quarter) join
  // every round's rotation: the machine's speed drifts within a process by as much as the errors
  // measured, so a calibration timed once, before the runs, would carry its moment into every prediction.
  type Entry = { policy: string } | { calibration: CalibrationRun['size'] };
  const calibrationOpts = { task, modules, config, devices, batch, slots, backend, lr, steps: steps - warm, warm };
  const entries: Entry[] = [...policies.map((policy) => ({ policy })), ...(predict ? calibrationSizes(calibrationOpts).map((calibration) => ({ calibration })) : [])];
  const calibrations: CalibrationRun[] = [];
  const runs: Run[] = [];
  // Each policy's first run records its routing, which its prediction replays. Placement changes no
  // math, but replicas and shadows sum in another order: on a learned router those last-bit
  // differences grow into other routing within tens of steps, so one run's routing stands for no other.
  const traceDir = predict ? mkdtempSync(join(tmpdir(), 'flexmoe-compare-')) : undefined;
  const traces = new Map<string, string>();
  for (let round = 0; round < rounds; round++) {
    for (const entry of roundOrder(entries, round)) {
      if ('calibration' in entry) {
        const c = await calibrationRun(calibrationOpts, entry.calibration);
        calibrations.push(c);
        log(`round ${round}, calibration (unskewed routing, ${calibrationLabel[entry.calibration]}): ${c.stepMs.toFixed(1)} ms a step`);
        if (json) process.stdout.write(`${JSON.stringify({ round, calibration: entry.calibration, stepMs: round4(c.stepMs) })}\n`);
        continue;
      }
      const policy = entry.policy;
      const recordTrace = traceDir && !traces.has(policy) ? join(traceDir, `routing-${traces.size}.jsonl`) : undefined;
      if (recordTrace) traces.set(policy, recordTrace);
      const history = await trainDistributed({ task, modules, devices, config, steps, batch, lr, slots, policy, profile: isFixedPlacement(policy) ? undefined : live, backend, recordTrace });
      const run: Run = {
        policy, round, history,
        stepMs: median(history.slice(warm).map((s) => s.stepMs)),
        tokensPerSec: Math.round(median(history.slice(warm).map((s) => s.tokensPerSec))),
        ...expertTime(history.slice(warm)),
        replans: history.filter((s) => s.replanMs > 0).length,
        shadowedSteps: history.filter((s) => s.shadows.some((l) => l.length)).length,
        lastLoss: history.at(-1)!.loss,
      };
      runs.push(run);
      log(`round ${round}, ${policy}: ${run.tokensPerSec} tokens/s, ${run.replans} re-plans, ${run.shadowedSteps} steps shadowed, last loss ${run.lastLoss.toFixed(4)}`);
      if (json) process.stdout.write(`${JSON.stringify({ round, policy, tokensPerSec: run.tokensPerSec, replans: run.replans, shadowedSteps: run.shadowedSteps, lastLoss: round4(run.lastLoss) })}\n`);
    }
  }
  // The prediction's profile: the experts' cost and the time no placement changes, from runs of their own.
  const modelStep = predict ? fitModelStep(profile!, calibrationOpts, calibrations) : null;
  if (modelStep) log(`calibration runs (unskewed routing, medians of ${rounds} round(s)): ${describeFit(modelStep)}; measured step ${modelStep.measuredStepMs.toFixed(1)} ms, modelled ${modelStep.predictedStepMs.toFixed(1)} ms: ${modelStep.unmodelledMs.toFixed(2)} ms per MoE layer unmodelled`);
  const base = policies[0]!;
  const of = (p: string) => runs.filter((r) => r.policy === p);
  const baseTps = Math.round(median(of(base).map((r) => r.tokensPerSec)));
  const baseLosses = of(base)[0]!.history.map((s) => s.loss);
  const predictions = modelStep ? new Map(policies.map((p) => [p, predictStep(traces.get(p)!, devices, slots, { ...profile!, ...fittedFields(modelStep) }, p, warm, modelStep.measuredStepMs)])) : null;
  const predicted = predictions && new Map([...predictions].map(([p, x]) => [p, x.stepMs]));
  const scheduled = [...(predictions ?? [])].filter(([, x]) => x.scheduleMs > 0);
  if (traceDir) rmSync(traceDir, { recursive: true, force: true });
  const rows = policies.map((p) => {
    const mine = of(p), tps = Math.round(median(mine.map((r) => r.tokensPerSec)));
    const lossDiff = Math.max(...mine[0]!.history.map((s, i) => Math.abs(s.loss - baseLosses[i]!) / baseLosses[i]!));
    const stepMs = median(mine.map((r) => r.stepMs));
    const prediction = predicted ? { predictedStepMs: round4(predicted.get(p)!), predictedOverBaseline: round4(predicted.get(base)! / predicted.get(p)!), predictionError: round4(predicted.get(p)! / stepMs - 1), scheduleMs: round4(predictions!.get(p)!.scheduleMs) } : {};
    return { policy: p, tokensPerSec: tps, overBaseline: round4(tps / baseTps), stepMs: round4(stepMs), expertMs: round4(median(mine.map((r) => r.expertMs))), imbalanceMs: round4(median(mine.map((r) => r.imbalanceMs))), ...prediction, perRound: mine.map((r) => r.tokensPerSec), replans: median(mine.map((r) => r.replans)), shadowedSteps: median(mine.map((r) => r.shadowedSteps)), lastLoss: round4(mine[0]!.lastLoss), lossRelDiff: lossDiff };
  });
  // Even routing shows an imbalance of its own (rows and times vary from step to step); the
  // full-batch calibration runs measure it, and the headroom beyond it is what a placement can take.
  const floorMs = predict ? round4(median(calibrations.filter((c) => c.size === 'full').map((c) => c.imbalanceMs))) : null;
  const { headroom, policies: taken } = headroomShares(rows, floorMs);
  if (json) {
    process.stdout.write(`${JSON.stringify({ summary: { model, devices, steps, rounds, baseline: base, policies: taken, headroom, ...(modelStep ? { unmodelledMs: round4(modelStep.unmodelledMs) } : {}), ...(profile ? { profile: { expertTflops: round4(profile.expertTflops), channelGBps: round4(profile.intraNodeGBps), allReduceGBps: profile.allReduceGBps === undefined ? null : round4(profile.allReduceGBps), collectiveMs: profile.collectiveMs === undefined ? null : round4(profile.collectiveMs) } } : {}) } })}\n`);
    return;
  }
  const header = ['policy', 'tokens/s', `÷ ${base}`, 'step ms', 'experts ms', 'imbalance ms', ...(predicted ? ['predicted ms', `predicted ÷ ${base}`, 'error'] : []), 'per round', 're-plans', 'steps shadowed', 'last loss', `loss vs ${base}`];
  const table = rows.map((r) => [
    r.policy, String(r.tokensPerSec), r.overBaseline.toFixed(3), r.stepMs.toFixed(1), r.expertMs.toFixed(1), r.imbalanceMs.toFixed(1),
    ...('predictedStepMs' in r ? [r.predictedStepMs!.toFixed(1), r.predictedOverBaseline!.toFixed(3), `${(100 * r.predictionError!).toFixed(1)}%`] : []),
    r.perRound.join(' / '), String(r.replans), String(r.shadowedSteps), r.lastLoss.toFixed(4), r.lossRelDiff.toExponential(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`${model} on ${devices} devices, ${steps} steps × ${rounds} round(s), median step after ${warm} warm-up steps:\n${line(header)}\n${table.map(line).join('\n')}\n`);
  process.stdout.write("experts ms: the busiest device's expert compute per step (forward and backward); imbalance ms: how far it is above the devices' mean\n");
  if (headroom) process.stdout.write(`headroom: under static-unpadded the experts' imbalance is ${headroom.imbalanceMs.toFixed(1)} ms of a ${headroom.stepMs.toFixed(1)} ms step; balancing them perfectly at no cost would make it at most ${headroom.bound.toFixed(3)}× faster\n`);
  if (headroom?.beyondFloor !== undefined) process.stdout.write(`unskewed routing shows ${headroom.floorMs!.toFixed(1)} ms of imbalance itself (the full-batch calibration runs: rows and times vary from step to step), which no placement removes; beyond it, at most ${headroom.beyondFloor.toFixed(3)}× faster\n`);
  const shares = taken.filter((r) => r.policy !== 'static-unpadded' && r.captured !== null);
  if (shares.length) process.stdout.write(`captured of the headroom (from each policy's speed-up over static-unpadded, the median over rounds of the ratio within a round): ${shares.map((r) => `${r.policy} ${r.captured!.toFixed(2)} at ${r.speedup!.toFixed(3)}×${r.capturedBeyondFloor === null ? '' : ` (${r.capturedBeyondFloor.toFixed(2)} beyond unskewed routing's)`}`).join(', ')}\n`);
  if (predicted) process.stdout.write(`predicted: the simulator replaying each policy's routing (its first run's), with the calibrated profile, the experts' cost (${describeFit(modelStep!, false)}) and the ${modelStep!.unmodelledMs.toFixed(2)} ms per MoE layer that no placement changes, all measured by calibration runs of the model with unskewed routing (uniform draws for --routing, the learned router with no initial skew otherwise), one of each per round among the policies' runs (medians over the rounds of the median step after the same warm-up)${scheduled.length ? `; the scheduler actor's own work, replaying the same routing through it, ${scheduled.map(([p, x]) => `${p} ${x.scheduleMs.toFixed(2)} ms`).join(', ')} a step` : ''}; error: predicted ÷ measured − 1\n`);
  if (profile) process.stdout.write(`calibrated: expert compute ${(profile.expertTflops * 1000).toFixed(1)} GFLOP/s, channels ${profile.intraNodeGBps.toFixed(2)} GB/s, gradient all-reduce ${profile.allReduceGBps?.toFixed(2) ?? '–'} GB/s, a collective ${profile.collectiveMs?.toFixed(3) ?? '–'} ms\n`);
}

/**
 * The headroom read from the static-unpadded row (null without one), and beyond `floorMs` (the
 * imbalance unskewed routing shows) when it is known; each policy's share of both, from its speed-up
 * over static-unpadded. With runs per round (`perRound`, tokens/s in round order, as many for each
 * policy), the speed-up is the median over rounds of the ratio within a round: a round's runs are
 * the closest in time, and this machine's speed drifts within a process between states far apart,
 * which medians taken over each policy's rounds apart pair by chance. Otherwise the ratio of the
 * rows' tokens/s (as the table's).
 */
export function headroomShares<R extends { policy: string; tokensPerSec: number; stepMs: number; imbalanceMs: number; perRound?: readonly number[] }>(rows: readonly R[], floorMs: number | null) {
  const exact = rows.find((r) => r.policy === 'static-unpadded');
  const headroom = exact
    ? { stepMs: exact.stepMs, imbalanceMs: exact.imbalanceMs, bound: round4(headroomOf(exact.stepMs, exact.imbalanceMs)), ...(floorMs === null ? {} : { floorMs, beyondFloor: round4(headroomOf(exact.stepMs, Math.max(0, exact.imbalanceMs - floorMs))) }) }
    : null;
  const speedup = (r: R): number | null => {
    if (!exact) return null;
    const a = r.perRound, b = exact.perRound;
    if (a?.length && b?.length === a.length) return median(a.map((x, i) => x / b[i]!));
    return r.tokensPerSec / exact.tokensPerSec;
  };
  return {
    headroom,
    policies: rows.map((r) => {
      const s = speedup(r);
      const took = (bound?: number) => (s !== null && bound !== undefined ? captured(s, bound) : null);
      return { ...r, speedup: s, captured: took(headroom?.bound), capturedBeyondFloor: took(headroom?.beyondFloor) };
    }),
  };
}

/**
 * The simulator's median step time for `policy`, replaying a recorded routing trace after `warm`
 * steps, and the scheduler actor's work a step it charged: a policy the scheduler actor runs pays
 * that work where no core is spare for it (`scheduleMs`, timed by replaying the same routing
 * through it, the scheduler told `measuredMs` for each step); 0 otherwise.
 */
export function predictStep(trace: string, devices: number, slots: number, profile: CostProfile, policy: string, warm: number, measuredMs = 0): { stepMs: number; scheduleMs: number } {
  const source = TraceSource.read(trace);
  // A policy the scheduler actor runs, with no core to spare for it: its work shares a device's.
  const scheduleMs = runsInScheduler(policy) && !schedulerHasSpareCore(devices) ? schedulerStepMs(source, { policy, profile, devices, slots, warm, stepMs: measuredMs }) : 0;
  const { reports } = simulate({ source, devices, slots, profile: { ...profile, scheduleMs }, policies: [policy] });
  return { stepMs: median(reports[0]!.stepMs.slice(warm)), scheduleMs };
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** The profile fields a model's calibration runs fit. */
const fittedFields = (m: ModelStep) => ({ expertTflops: m.expertTflops, expertCallMs: m.expertCallMs, expertHeldMs: m.expertHeldMs, unmodelledMs: m.unmodelledMs });

/** What calibration runs measured, in words. */
const describeFit = (m: ModelStep, unmodelled = true) =>
  `experts at ${(m.expertTflops * 1000).toFixed(1)} GFLOP/s per row, ${m.expertCallMs.toFixed(3)} ms per buffer and ${m.expertHeldMs.toFixed(3)} ms per expert held${unmodelled ? `, ${m.unmodelledMs.toFixed(2)} ms per MoE layer unmodelled` : ''}`;

/**
 * The experts' compute time in these steps (medians): the busiest device's, and the imbalance, how
 * far the busiest device's expert time is above the devices' mean, summed over the MoE layers'
 * forwards and backwards (`expertImbalanceMs`). The imbalance is what a perfect, free balance would
 * take off the step; the rest of the step no placement changes.
 */
export function expertTime(steps: readonly DistributedStep[]): { expertMs: number; imbalanceMs: number } {
  if (!steps.length) return { expertMs: 0, imbalanceMs: 0 };
  return { expertMs: median(steps.map((s) => Math.max(...s.deviceExpertMs))), imbalanceMs: median(steps.map((s) => s.expertImbalanceMs)) };
}


/**
 * The order the policies run in, round `round`: rotated every other round and reversed in between
 * (ABBA for two), so no policy always runs first while the machine's speed drifts within a process.
 */
export function roundOrder<T>(policies: readonly T[], round: number): T[] {
  const rotated = policies.map((_, i) => policies[(i + Math.floor(round / 2)) % policies.length]!);
  return round % 2 ? rotated.reverse() : rotated;
}
