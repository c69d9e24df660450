import { errors } from '../errors.js';
import { ActorSystem } from '../runtime/system.js';
import { moduleUrls, siblingModule } from '../runtime/thread.js';
import { expertTimes, median } from '../stats.js';
import { defaultBackendName } from '../kernels/backend.js';
import type { MoELayerSpec, MoETrainerArgs, StepReport, TrainerState } from '../../actors/moe-trainer.js';
import { applyPlacement, spawnMoEActors } from './moe-actors.js';
import { CrashRecovery, currentRefs, survivorsReports, withLastGood, type RecoveryReport } from './recovery.js';
import { adamWSettings } from './schedule.js';
import { checkCompatible, checkTensorNames, saveCheckpoint } from './checkpoint.js';
import { checkpointInfo, removeUnreferencedShards, saveId, shardFile, writeManifest, type ShardEntry } from './sharded-checkpoint.js';
import { checkReadable, checkWritable } from './paths.js';
import { knownTasks, makeTask, type TaskSpec } from '../models/tasks.js';
import type { CarriedOut, LayerPlan, SchedulerArgs, SchedulerMessage } from '../../actors/scheduler.js';
import { TraceWriter } from '../sched/trace.js';
import { parseWorkload } from '../sched/workload.js';
import { Placement } from '../sched/placement.js';
import type { LoadView } from '../sched/policy.js';
import { LayerScheduler } from '../sched/pipeline.js';
import { checkLivePolicy, defaultLivePolicy, isFixedPlacement, padsToMax, runsInScheduler, schedulerHasSpareCore, shadowingPolicies } from '../sched/policies/index.js';
import { importUserModule } from '../runtime/modules.js';

export type { DistributedOptions, DistributedStep, Rebalance } from './distributed-types.js';
import type { DistributedOptions, DistributedStep, Rebalance } from './distributed-types.js';

const trainerModule = siblingModule('../../actors/moe-trainer', import.meta.url);
const schedulerModule = siblingModule('../../actors/scheduler', import.meta.url);
const expertModule = siblingModule('../../actors/expert', import.meta.url);
const gateModule = siblingModule('../../actors/gate', import.meta.url);


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
  const { devices, batch } = opts;
  // A workload the gates route by (GateOptions.routing) runs over this run's steps.
  const config = opts.config.moe?.routing ? { ...opts.config, moe: { ...opts.config.moe, routingSteps: opts.config.moe.routingSteps ?? opts.steps } } : opts.config;
  if (config.moe?.routing) parseWorkload(config.moe.routing, 'routing');
  const task = opts.task ?? 'gpt-moe';
  // Paths first, before any device starts: what a run writes and what it reads.
  if (opts.checkpoint) checkWritable(opts.checkpoint, 'checkpoint');
  if (opts.recordTrace) checkWritable(opts.recordTrace, 'record-trace');
  if (opts.resume) checkReadable(opts.resume, 'resume');
  const modules = moduleUrls(opts.modules ?? []);
  for (const m of modules) await importUserModule(m); // registers the models of your own here too
  if (!knownTasks().includes(task)) throw errors.badArgument('--model', `unknown model "${task}"; known: ${knownTasks().join(', ')}`);
  const experts = config.moe?.experts ?? 0;
  if (!config.moe) throw errors.badArgument('trainDistributed', 'the model has no MoE layers (config.moe)');
  if (batch % devices !== 0) throw errors.badArgument('trainDistributed', `global batch ${batch} does not split over ${devices} devices`);
  if (devices > experts) throw errors.badArgument('--devices', `${devices} devices for ${experts} experts: every device needs at least one expert (use more experts or fewer devices)`);
  const replicas = opts.replicas ?? Array.from({ length: experts }, (_, e) => [e % devices]);
  if (replicas.length !== experts || replicas.some((r) => !r.length || r.some((d) => d < 0 || d >= devices))) {
    throw errors.badArgument('trainDistributed', `replicas must list 1+ valid devices for each of ${experts} experts`);
  }
  const hosts = Array.from({ length: devices }, (_, d) => replicas.flatMap((r, e) => (r.includes(d) ? [e] : [])));
  const slots = Math.max(opts.slots ?? 0, ...hosts.map((h) => h.length));
  if (typeof opts.policy === 'string') checkLivePolicy(opts.policy);
  if (opts.policy && !(typeof opts.policy === 'string' && isFixedPlacement(opts.policy)) && !opts.profile) throw errors.badArgument('trainDistributed', 'a live policy needs a cost profile (flexmoe calibrate)');
  const named = typeof opts.policy === 'string' ? opts.policy : defaultLivePolicy;
  const thread = opts.schedulerThread ?? 'auto';
  const ownThread = runsInScheduler(named) && (thread === 'own' || (thread === 'auto' && schedulerHasSpareCore(devices)));
  const system = await ActorSystem.start({ devices: opts.hosts ? 0 : devices, hosts: opts.hosts, serviceDevices: ownThread ? 1 : 0, modules: [trainerModule, schedulerModule, expertModule, gateModule, ...modules], askTimeoutMs: 120_000 });
  if (system.options.devices !== devices) {
    await system.stop();
    throw errors.badArgument('--hosts', `the ${opts.hosts!.hosts} host(s) offer ${system.options.devices} device(s) together; the run asked for ${devices}`);
  }
  const schedulerDevice = ownThread ? devices : devices - 1;
  let trace: TraceWriter | null = null;
  const runtime = opts.onRuntimeEvent ? system.events$.subscribe(opts.onRuntimeEvent) : null;
  try {
    const spec: TaskSpec = { task, config, corpusChars: opts.corpusChars, imagesPerDigit: opts.imagesPerDigit };
    // The config as the model sees it (a language model of your own fills in its vocabulary): what
    // checkpoints record and resumes compare.
    const resolved = task === 'vision-moe' || task === 'gpt-moe' || task === 'bert-moe' ? config : makeTask(spec).config;
    // The characters of the vocabulary, so a served model can encode prompts without the corpus.
    let vocab: string[] | null | undefined;
    const shadowing = shadowingPolicies.includes(named) ? { policy: named, profile: opts.profile!, slots, topk: config.moe.topk } : undefined;
    const args: MoETrainerArgs = { spec, batch, steps: opts.steps, lr: opts.lr, backend: opts.backend ?? (await defaultBackendName()), shadowing, padMax: padsToMax(named) };
    // Trainers are data-parallel replicas of one another: one spawned, the others its clones, so a
    // rebuilt device gets its trainer's state from a live peer.
    const firstTrainer = await system.spawn('MoETrainer', args, { device: 0 });
    const trainers = [firstTrainer, ...(await Promise.all([...Array(devices).keys()].slice(1).map((d) => system.clone(firstTrainer, d))))];
    // Gates and experts are actors of their own, made from the seeds the trainers' models derive;
    // the model says how many MoE layers it has.
    const specs = await system.ask<MoELayerSpec[]>(trainers[0]!, { type: 'specs' });
    const { tokensPerSample, layers } = await system.ask<{ tokensPerSample: number; layers: number }>(trainers[0]!, { type: 'shape' });
    const placements = Array.from({ length: layers }, () => new Placement(devices, slots, experts, hosts));
    // A policy object runs here, one instance per layer; a built-in name runs in the scheduler actor;
    // static needs neither (it never changes the placement).
    const make = typeof opts.policy === 'function' ? opts.policy : null;
    // The same scheduling pipeline as the scheduler actor's, one per layer, on this thread.
    const local = make ? placements.map((p) => ({ scheduler: new LayerScheduler(make(), () => p, () => opts.profile!), history: [] as Float64Array[] })) : null;
    // Per source device (what each device's gate routed): replayed on as many devices, the all-to-all
    // volumes are the recorded ones; on others, each expert's total spreads evenly.
    trace = opts.recordTrace ? new TraceWriter(opts.recordTrace, { experts, layers, topk: config.moe.topk, sourceDevices: devices }) : null;
    let applied = placements.map((p) => p.replicas());
    let actors = await spawnMoEActors(system, specs, applied, { backend: args.backend, optimizer: adamWSettings(opts.lr) });
    // A built-in policy runs in the scheduler actor (on a device of its own); a policy object runs here.
    const scheduler = runsInScheduler(named)
      ? await system.spawn('Scheduler', { policy: named, profile: opts.profile!, devices, slots, replicas: applied, topk: config.moe.topk, actors, learn: !opts.reproducibleSchedule } satisfies SchedulerArgs, { device: schedulerDevice })
      : null;
    const attach = () => Promise.all(trainers.map((t) => system.ask(t, { type: 'attach', replicas: applied, actors, scheduler: scheduler ?? undefined })));
    await attach();
    let first = 0;
    if (opts.resume) {
      // Here only the meta and the tensors' names; every device reads the shards holding its parts.
      const info = checkpointInfo(opts.resume);
      checkCompatible(opts.resume, info.meta, task, resolved);
      const checked = await Promise.all(trainers.map((t) => system.ask<{ needed: string[]; problems: string[] }>(t, { type: 'load-from', path: opts.resume })));
      const problems = [...new Set(checked.flatMap((c) => c.problems))];
      if (problems.length) throw errors.checkpoint(opts.resume, `does not fit this model: it ${problems.slice(0, 4).join('; ')}${problems.length > 4 ? `; and ${problems.length - 4} more` : ''}`);
      checkTensorNames(opts.resume, info.names, checked.flatMap((c) => c.needed));
      first = info.meta.step as number;
      if (first >= opts.steps) throw errors.badArgument('resume', `${opts.resume} is at step ${first}; ${opts.steps} steps leave nothing to train (ask for more steps)`);
    }
    /**
     * Writes a checkpoint of `step`: every device writes its shard in parallel, then the manifest
     * ties them together. From `given` (the last in-memory snapshot, when a run must stop), one file.
     */
    const save = async (step: number, given?: TrainerState) => {
      vocab ??= task === 'vision-moe' ? null : (makeTask(spec).corpus?.vocab.chars ?? null);
      const path = opts.checkpoint!;
      const meta = { task, config: resolved, modules, vocab, step, devices, placement: placements.map((p) => p.replicas()) };
      if (given) {
        saveCheckpoint(path, { ...meta, optimizerStep: given.optimizerStep, dataRng: given.dataRng }, new Map(Object.entries(given.tensors)));
        removeUnreferencedShards(path, new Set());
        return;
      }
      const id = saveId(step);
      const shards = await Promise.all(trainers.map((t, d) => system.ask<{ entry: ShardEntry; optimizerStep: number; dataRng: number }>(t, { type: 'save-shard', file: shardFile(path, id, d), meta: { task, step } })));
      writeManifest(path, { ...meta, optimizerStep: shards[0]!.optimizerStep, dataRng: shards[0]!.dataRng }, shards.map((s) => s.entry));
    };
    const out: DistributedStep[] = [];
    const last = Math.min(opts.steps, opts.until ?? opts.steps);
    const arrived: LayerPlan[] = [];
    let planFailure: Error | null = null;
    // The scheduler answers each step's measurement with a `planned` event (or, failing, an error event).
    const planned = new Map<number, () => void>();
    const plannedSteps = new Set<number>();
    const schedulerEvents = system.events$.subscribe((e) => {
      if (e.type !== 'actor-event' || !scheduler || e.ref.id !== scheduler.id) return;
      const data = e.data as { type?: string; step?: number; plans?: LayerPlan[]; error?: string };
      if (data.error) planFailure ??= errors.actorFailed(`Scheduler#${scheduler.id}`, e.ref.device, data.error);
      if (data.type !== 'planned') return;
      arrived.push(...data.plans!);
      const waiting = planned.get(data.step!);
      if (waiting) (planned.delete(data.step!), waiting());
      else if (opts.reproducibleSchedule) plannedSteps.add(data.step!); // arrived before the driver waits for it
    });
    const plansOf = (step: number) =>
      plannedSteps.delete(step)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(planFailure ?? errors.askTimeout(`Scheduler#${scheduler!.id}`, schedulerDevice, system.options.askTimeoutMs, `no plans for step ${step}`)), system.options.askTimeoutMs);
            planned.set(step, () => (clearTimeout(timer), resolve()));
          });
    // A re-plan costs its switch and the excess of the step after it (new replicas' first work:
    // cold caches, fresh buffers; measured 1.1–1.3× a normal step). Both go to the scheduler with
    // the load after that step; it charges them to later plans. Normal: the median of recent steps
    // that neither switched nor followed a switch.
    let switchCost: number | null = null;
    const normalSteps: number[] = [];
    const recovery = devices > 1 ? new CrashRecovery(system, trainers, { snapshotEvery: opts.snapshotEvery ?? 10, maxRecoveries: 3 }) : null;
    const faults = [...(opts.faults ?? [])];
    let expected = await system.ask<number>(trainers[0]!, { type: 'progress' });
    let traced = first - 1;
    for (let step = first; step < last; step++) {
      if (recovery && (step === first || recovery.due(step))) recovery.snapshot(step);
      const t0 = performance.now(), mark = recovery?.mark() ?? 0;
      const asks = trainers.map((t) => system.ask<StepReport>(t, { type: 'step', step }));
      const fault = faults.findIndex((f) => f.step === step);
      if (fault >= 0) system.crashDevice(faults[fault]!.device, faults.splice(fault, 1)[0]!.how ?? 'exit');
      const settled = await Promise.allSettled(asks);
      let reports: StepReport[];
      const failure = settled.find((s) => s.status === 'rejected');
      if (!failure) reports = settled.map((s) => (s as PromiseFulfilledResult<StepReport>).value);
      else {
        if (!recovery || recovery.crashedSince(mark).length === 0) throw failure.reason;
        let outcome: Omit<RecoveryReport, 'ms'>;
        try {
          outcome = await recovery.recover(step, mark, expected, () => ((actors = currentRefs(system, actors)), attach()));
        } catch (e) {
          throw await withLastGood(e as Error, recovery, opts.checkpoint ? (s) => save(s.step, s.state) : null);
        }
        expected = await system.ask<number>(trainers[0]!, { type: 'progress' });
        opts.onRecovery?.({ ...outcome, ms: performance.now() - t0 });
        if (outcome.action !== 'kept') {
          out.splice(outcome.resumedAt - first);
          step = outcome.resumedAt - 1;
          continue;
        }
        reports = survivorsReports(settled);
      }
      expected = reports[0]!.optimizerStep;
      const stepMs = performance.now() - t0;
      const counts = reports[0]!.expertCounts.map((layer, l) => layer.map((_, e) => reports.reduce((s, r) => s + r.expertCounts[l]![e]!, 0)));
      const version = Math.max(...placements.map((p) => p.version));
      let switchMs: number | undefined, normalMs: number | undefined;
      if (switchCost !== null) {
        switchMs = switchCost + Math.max(0, stepMs - (normalSteps.length ? median(normalSteps) : stepMs));
        switchCost = null;
      } else {
        normalSteps.push(stepMs);
        if (normalSteps.length > 9) normalSteps.shift();
        normalMs = stepMs;
      }
      // The policy sees this step's routing and may change the placement before the next step.
      let replanMs = 0;
      const changes: Rebalance[] = [];
      const sourceCounts = counts.map((_, l) => reports.map((r) => r.expertCounts[l]!));
      if (step > traced) sourceCounts.forEach((c, l) => trace?.record(step, l, c));
      traced = Math.max(traced, step);
      if (scheduler) {
        // The scheduler plans beside the next step instead of before it (planning stays off the
        // critical path). The plans that have arrived are carried out at this boundary by the
        // scheduler itself (clone / migrate / stop of expert actors), before it is shown this
        // step's routing, so carrying out never waits for planning.
        if (planFailure) throw planFailure;
        if (arrived.length) {
          const t1 = performance.now();
          const done = await system.ask<CarriedOut>(scheduler, { type: 'carry-out', count: arrived.splice(0).length } satisfies SchedulerMessage);
          actors = currentRefs(system, done.actors);
          applied = done.replicas;
          await attach();
          replanMs = performance.now() - t1;
          for (const p of done.plans) {
            placements[p.layer]!.applyBatch(p.ops);
            changes.push({ step, ...p, moves: done.moves[p.layer] });
          }
        }
        if (changes.length) switchCost = replanMs;
        // The gates have told the scheduler this step's routing themselves; this is the step's measurement.
        system.tell(scheduler, { type: 'measured', step, switchMs, stepMs: changes.length ? undefined : normalMs } satisfies SchedulerMessage);
        if (opts.reproducibleSchedule) await plansOf(step);
      } else {
        local?.forEach(({ scheduler: layerScheduler, history }, l) => {
          const placement = placements[l]!;
          const totals = Float64Array.from(counts[l]!);
          history.push(totals);
          if (history.length > 128) history.shift();
          const view: LoadView = { step: step + 1, history: [...history], current: sourceCounts[l]!.map((r) => Float64Array.from(r)), topk: config.moe!.topk };
          const ops = layerScheduler.next(view);
          if (!ops.length) return;
          placement.applyBatch(ops);
          changes.push({ step, layer: l, ops, version: placement.version, replicas: placement.replicas() });
        });
        if (changes.length) {
          // A policy object runs here, and so does carrying out its plans.
          const t1 = performance.now();
          const next = placements.map((p) => p.replicas());
          const applying = await applyPlacement(system, actors, applied, next);
          actors = applying.actors;
          applied = next;
          for (const c of changes) c.moves = applying.moves[c.layer];
          await attach();
          replanMs = performance.now() - t1;
        }
      }
      for (const c of changes) opts.onRebalance?.(c);
      const s: DistributedStep = {
        step, loss: reports[0]!.loss, auxLoss: reports[0]!.auxLoss, expertCounts: counts, sourceCounts, droppedTokens: reports.reduce((n, r) => n + r.droppedTokens, 0), shadows: reports[0]!.shadows, stepMs,
        tokensPerSec: (batch * tokensPerSample * 1000) / stepMs, deviceMs: reports.map((r) => r.computeMs), deviceExchangeMs: reports.map((r) => r.exchangeMs), deviceExpertRows: reports.map((r) => r.expertRows), deviceHeldMs: reports.map((r) => r.heldMs), ...expertTimes(reports.map((r) => r.expertMs)), placementVersion: version, replanMs,
      };
      if ((opts.evalEvery && (step + 1) % opts.evalEvery === 0) || step + 1 === last) {
        s.evalLoss = (await Promise.all(trainers.map((t) => system.ask<number>(t, { type: 'eval', batches: opts.evalBatches ?? 4 }))))[0]!;
      }
      out.push(s);
      opts.onStep?.(s);
      if (opts.checkpoint && ((opts.checkpointEvery && (step + 1) % opts.checkpointEvery === 0) || step + 1 === last)) await save(step + 1);
    }
    schedulerEvents.unsubscribe(); // a plan still on its way is not carried out: training is over
    let sample = '';
    if (opts.sample) sample = (await Promise.all(trainers.map((t) => system.ask<string>(t, { type: 'generate', ...opts.sample }))))[0]!;
    return { history: out, sample };
  } finally {
    runtime?.unsubscribe();
    await trace?.close();
    await system.stop();
  }
}

