import { availableParallelism } from 'node:os';
import { createBackend, defaultBackendName } from '../kernels/backend.js';
import { errors } from '../errors.js';
import { CharCorpus, mobyDick } from '../data/corpus.js';
import { CharTransformer, type CharTransformerConfig } from '../models/char-transformer.js';
import { balanceRatio, deviceLoads, Placement } from '../sched/placement.js';
import { generate, trainCharLM } from '../train/lm.js';
import { Trainer } from '../train/trainer.js';
import { checkLivePolicy, defaultLivePolicy, isFixedPlacement, shadowingPolicies } from '../sched/policies/index.js';
import type { TaskName } from '../models/tasks.js';
import type { VisionMoEConfig } from '../models/vision-moe.js';
import { Progress } from '../train/progress.js';
import { intFlag, type Flags } from './args.js';
import { natsCredentials } from '../hosts/credentials.js';
import type { HostsOptions } from '../hosts/cluster.js';
import { headroom, median } from '../stats.js';
import { checkReadable, checkWritable } from '../train/paths.js';
import { checkpointInfo } from '../train/sharded-checkpoint.js';
import { modelFromFlags } from './model-flags.js';
import { readProfileFile } from '../sched/profile-file.js';

export const trainHelp = `flexmoe train [--model gpt-moe|bert-moe|vision-moe|dense|NAME --module FILE] [--steps N] [--seed S] [--batch B] [--seq L] [--d-model D]
              [--layers N] [--heads H] [--d-ff F] [--experts E] [--topk 1|2] [--capacity-factor F] [--router-skew S]
              [--routing zipf:S[,drift][,burst][,transient]] [--devices N] [--policy static|static-unpadded|flexmoe|eplb|fastermoe|flexmoe-react|NAME] [--slots S] [--checkpoint FILE [--checkpoint-every N]]
              [--snapshot-every N] [--resume FILE] [--record-trace FILE] [--profile FILE] [--lr X] [--backend NAME] [--sample N] [--json]
              [--nats URL --hosts H [--nats-creds FILE]]
  Trains a character-level GPT (Mixture-of-Experts by default) on the embedded corpus (Moby-Dick),
  then prints a sample. By default on one device (worker thread) per core, up to the model's experts
  and 8, with the FlexMoE scheduler, and ends by saying what the scheduler saw and did; --devices 1
  trains in this thread. --module FILE loads a module that registers models (registerTask) or placement
  policies (registerPolicy) of your own, on the devices too; --model NAME then trains one of them on
  the devices, with the character-model flags as its config, and --policy NAME plans with one.
  --routing SPEC makes the gates route by a synthetic workload (the one flexmoe simulate steps
  through) instead of their logits: a live run under a chosen, lasting skew and drift, for measuring
  placement policies (combine weights still come from the gates, so the model still trains).
  --profile FILE gives live policies a cost profile (\`flexmoe calibrate\` with the same model flags
  prints one: the experts' cost per row and per buffer as this model runs them); without it they plan
  with a quick measurement of this machine at the start.
  A device thread that dies mid-step is rebuilt and training goes on: the step runs again when a
  live replica holds everything it had, otherwise every device rolls back to its in-memory snapshot
  (taken every --snapshot-every N steps, default 10; 0: none) and runs the steps since again.
  --nats URL --hosts H trains on the devices of H hosts (\`flexmoe host\`) joined through that NATS
  server, --devices in all (default: one per host); credentials come from FLEXMOE_NATS_USER and
  FLEXMOE_NATS_PASSWORD, or FLEXMOE_NATS_TOKEN, or --nats-creds FILE (JSON).`;

/** `flexmoe train`: the main job on its embedded default. */
export async function train(flags: Flags): Promise<void> {
  const { model, modules, own, text: config, config: modelConfig, batch, lr } = await modelFromFlags(flags);
  // The main job: an MoE model on as many devices as the machine has cores (up to its experts and
  // 8), placed by the FlexMoE scheduler. --devices 1 trains in this thread, without actors.
  const defaultDevices = model === 'dense' ? 1 : Math.max(1, Math.min(availableParallelism(), config.moe?.experts ?? 1, 8));
  // Hosts joined through NATS: every device is a host's, one per host unless --devices says more.
  const nats = typeof flags.nats === 'string' ? flags.nats : undefined;
  if (!nats && (flags.hosts !== undefined || flags['nats-creds'] !== undefined)) throw errors.badArgument('--hosts', '--hosts and --nats-creds go with --nats URL (the NATS server the hosts joined)');
  const hostCount = nats ? intFlag(flags, 'hosts', 1, 1, 64) : 0;
  const hosts = nats ? { nats, hosts: hostCount, credentials: natsCredentials(typeof flags['nats-creds'] === 'string' ? flags['nats-creds'] : undefined) } : undefined;
  const devices = intFlag(flags, 'devices', nats ? Math.max(2, hostCount) : defaultDevices, 1, 64);
  if (nats && devices < 2) throw errors.badArgument('--devices', 'training on hosts needs 2 or more devices in all');
  // What the run reads and writes, before anything starts or prints.
  if (typeof flags.checkpoint === 'string') checkWritable(flags.checkpoint, 'checkpoint');
  if (typeof flags['record-trace'] === 'string') checkWritable(flags['record-trace'], 'record-trace');
  if (typeof flags.resume === 'string') {
    checkReadable(flags.resume, 'resume');
    checkpointInfo(flags.resume); // its structure (a single file: its checksum too), before any device starts
  }
  const experts = config.moe?.experts ?? 1;
  if (devices > experts) throw errors.badArgument('--devices', `${devices} devices for ${experts} experts: every device needs at least one expert (use more experts or fewer devices)`);
  if (devices > 1 && model === 'dense') throw errors.badArgument('--devices', 'the dense model trains on one device; several devices need MoE layers (--model gpt-moe, bert-moe or vision-moe)');
  const policy = typeof flags.policy === 'string' ? flags.policy : devices > 1 ? 'flexmoe' : defaultLivePolicy;
  if (flags.profile !== undefined && (isFixedPlacement(policy) || devices < 2)) throw errors.badArgument('--profile', `a cost profile is for live policies on 2 or more devices; ${devices < 2 ? 'this run has 1 device' : `${policy} keeps its placement`}`);
  if (!isFixedPlacement(policy) && devices < 2) throw errors.badArgument('--policy', `placement policies move experts between devices: use --devices 2 or more with --policy ${policy}`);
  checkLivePolicy(policy);
  const backendName = typeof flags.backend === 'string' ? flags.backend : await defaultBackendName();
  const be = await createBackend(backendName);
  try {
    const json = flags.json === true;
    const corpus = new CharCorpus(mobyDick());
    const steps = intFlag(flags, 'steps', model === 'dense' ? 300 : 200, 1);
    if (model === 'bert-moe' || model === 'vision-moe') return await trainOnDevices(flags, model, modelConfig, devices, steps, batch, lr, be.name, policy, modules, hosts);
    if (own) return await trainOnDevices(flags, model, config, devices, steps, batch, lr, be.name, policy, modules, hosts);
    if (devices > 1 || flags.checkpoint || flags.resume || flags['record-trace']) return await trainOnDevices(flags, 'gpt-moe', config, devices, steps, batch, lr, be.name, policy, modules, hosts);
    const net = new CharTransformer(be, config);
    const log = (s: string) => (json ? undefined : process.stderr.write(`${s}\n`));
    log(`flexmoe: ${model}, ${net.parameterCount()} parameters${config.moe ? ` (${experts} experts per layer, top-${config.moe.topk})` : ''}, vocab ${corpus.vocab.size}, backend ${be.name}`);
    const progress = json ? null : new Progress(steps);
    // Balance is reported over the experts' round-robin placement on as many logical devices as experts allow.
    const placement = Placement.roundRobin(Math.min(experts, 2), Math.ceil(experts / Math.min(experts, 2)), experts);
    let tokens = 0, ms = 0, dropped = 0;
    const { history, evalLoss } = await trainCharLM(be, net, corpus, {
      steps, batch, lr, seed: config.seed,
      onStep: (s) => {
        tokens += batch * config.seq;
        ms += s.stepMs;
        dropped += s.droppedTokens;
        const br = s.expertCounts.length ? Math.max(...s.expertCounts.map((c) => balanceRatio(deviceLoads(c, placement)))) : 1;
        if (json) {
          process.stdout.write(`${JSON.stringify({ step: s.step, loss: round(s.loss), tokensPerSec: Math.round(s.tokensPerSec), balanceRatio: round(br), droppedTokens: s.droppedTokens, placementVersion: placement.version })}\n`);
        } else progress!.update(s, (tokens * 1000) / ms);
      },
    });
    const sampleLength = intFlag(flags, 'sample', 200);
    const sample = sampleLength > 0 ? await generate(be, net, corpus, 'Call me Ishmael. ', sampleLength, { seed: config.seed }) : '';
    const summary = { model, firstLoss: round(history[0]!.loss), lastLoss: round(history.at(-1)!.loss), evalLoss: round(evalLoss), tokensPerSec: Math.round((tokens * 1000) / ms), steps, droppedTokens: dropped, backend: be.name };
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

/** `flexmoe train --devices N` (or with checkpoints): the Trainer on worker-thread devices. */
async function trainOnDevices(flags: Flags, task: TaskName, config: CharTransformerConfig | VisionMoEConfig, devices: number, steps: number, batch: number, lr: number, backend: string, policy: string, modules: string[] = [], hosts?: HostsOptions): Promise<void> {
  const json = flags.json === true;
  const experts = config.moe!.experts;
  const slots = intFlag(flags, 'slots', 2 * Math.ceil(experts / devices), 1);
  const vocab = 'vocab' in config ? config.vocab : config.classes;
  const model = task;
  // A profile from `flexmoe calibrate` with the model's flags prices the experts as they run here;
  // without one, live policies plan with a quick measurement at the start.
  const profile = typeof flags.profile === 'string' ? readProfileFile(flags.profile) : undefined;
  const trainer = new Trainer({ task, modules, config, devices, batch, lr, policy, slots, backend, hosts, profile });
  const progress = json ? null : new Progress(steps);
  let replans = 0, dropped = 0, shadowedSteps = 0;
  const seen: SchedulerView = { balance: [], stepMs: [], imbalanceMs: [] };
  trainer.events$.subscribe((e) => {
    if (e.type === 'train-begin' && !json) process.stderr.write(`flexmoe: ${model} on ${devices} device(s) (${hosts ? `threads of ${hosts.hosts} host(s) joined through NATS` : 'worker threads'}), ${experts} experts per layer, policy ${policy}, ${slots} expert slots per device, ${task === 'vision-moe' ? 'classes' : 'vocab'} ${vocab}, backend ${backend}\n`);
    if (e.type === 'rebalance') {
      replans++;
      const why = e.predictedMsBefore === undefined ? '' : `; predicted ${e.predictedMsBefore.toFixed(2)} → ${e.predictedMsAfter!.toFixed(2)} ms per step, move ${e.migrationMs!.toFixed(2)} ms`;
      if (!json) process.stderr.write(`\nre-plan after step ${e.step}, layer ${e.layer}: ${e.ops.map((o) => (o.op === 'migrate' ? `migrate ${o.expert} ${o.from}→${o.to}` : `${o.op} ${o.expert}@${o.device}`)).join(', ')} (v${e.version}${why})\n`);
    }
    if (e.type === 'recovery') {
      const rebuilt = e.restored.map((r) => `${r.id} from ${r.source === 'replica' ? 'a live replica' : 'its arguments'}`).join(', ');
      const how = e.action === 'rollback' ? `every device rolled back to its snapshot before step ${e.resumedAt}; steps ${e.rerun[0]}–${e.rerun.at(-1)} run again` : e.action === 'rerun' ? `step ${e.step} runs again` : `step ${e.step} had completed everywhere else and stands`;
      if (json) process.stdout.write(`${JSON.stringify({ recovery: { step: e.step, crashed: e.crashed, action: e.action, resumedAt: e.resumedAt, rerun: e.rerun, restored: e.restored, ms: Math.round(e.ms) } })}
`);
      else process.stderr.write(`
device ${e.crashed.map((c) => `${c.device} crashed (${c.reason})`).join(', ')} during step ${e.step}; rebuilt in ${Math.round(e.ms)} ms (${rebuilt}); ${how}
`);
    }
    if (e.type === 'batch-end') {
      dropped += e.droppedTokens;
      seen.balance.push(e.balanceRatio);
      seen.stepMs.push(e.stepMs);
      seen.imbalanceMs.push(e.expertImbalanceMs);
      if (e.shadows.some((l) => l.length)) shadowedSteps++;
      // Shadows change every step: each step's line says which (per MoE layer).
      const shadows = shadowingPolicies.includes(policy) ? { shadows: e.shadows } : {};
      if (json) process.stdout.write(`${JSON.stringify({ step: e.step, loss: round(e.loss), tokensPerSec: Math.round(e.tokensPerSec), balanceRatio: round(e.balanceRatio), droppedTokens: e.droppedTokens, placementVersion: e.placementVersion, ...shadows })}\n`);
      else progress!.update(e, e.tokensPerSec);
    }
    if (e.type === 'train-end') {
      const scheduler = schedulerSummary(seen, policy, replans);
      const summary = { model, devices, policy, replans, firstLoss: round(e.firstLoss), lastLoss: round(e.lastLoss), evalLoss: e.evalLoss === undefined ? null : round(e.evalLoss), tokensPerSec: Math.round(e.tokensPerSec), steps: e.steps, droppedTokens: dropped, backend, ...(shadowingPolicies.includes(policy) ? { shadowedSteps } : {}), balanceFirst: scheduler.balanceFirst, balanceLast: scheduler.balanceLast, headroom: scheduler.headroom };
      if (json) process.stdout.write(`${JSON.stringify({ summary, sample: e.sample })}\n`);
      else {
        const shadowed = shadowingPolicies.includes(policy) ? `, experts shadowed in ${shadowedSteps} of ${e.steps} steps` : '';
        process.stderr.write(`loss ${summary.firstLoss} → ${summary.lastLoss} (held-out ${summary.evalLoss}), ${summary.tokensPerSec} tokens/s on ${devices} device(s)${shadowed}\n`);
        if (devices > 1) process.stderr.write(`${scheduler.text}\n`);
        if (e.sample) process.stdout.write(`\n--- sample ---\nCall me Ishmael. ${e.sample}\n`);
      }
    }
  });
  await trainer.fit({
    steps, sample: task === 'gpt-moe' ? intFlag(flags, 'sample', 200) : 0,
    checkpoint: typeof flags.checkpoint === 'string' ? flags.checkpoint : undefined,
    checkpointEvery: intFlag(flags, 'checkpoint-every', 0),
    snapshotEvery: intFlag(flags, 'snapshot-every', 10, 0),
    resume: typeof flags.resume === 'string' ? flags.resume : undefined,
    recordTrace: typeof flags['record-trace'] === 'string' ? flags['record-trace'] : undefined,
  });
}


interface SchedulerView {
  /** Per step: the busiest device's expert load over the devices' mean. */
  balance: number[];
  stepMs: number[];
  /** Per step: how far the busiest device's expert time is above the mean (all a perfect balance could save). */
  imbalanceMs: number[];
}

/**
 * What the placement saw and did, for the end of a run: balance at the start and the end (medians
 * of the first and last tenth of the steps), the headroom (how much faster a perfect, free balance
 * of the experts could make a step), and the re-plans, or why there were none.
 */
export function schedulerSummary(v: SchedulerView, policy: string, replans: number): { balanceFirst: number; balanceLast: number; headroom: number; text: string } {
  const n = v.balance.length, tenth = Math.max(1, Math.floor(n / 10));
  const balanceFirst = round(median(v.balance.slice(0, tenth))), balanceLast = round(median(v.balance.slice(-tenth)));
  const stepMs = median(v.stepMs.slice(tenth)), imbalanceMs = median(v.imbalanceMs.slice(tenth));
  const bound = n > tenth && stepMs > imbalanceMs ? round(headroom(stepMs, imbalanceMs)) : 1;
  const saw = `scheduler (${policy}): expert load max/mean ${balanceFirst.toFixed(2)} over the first steps, ${balanceLast.toFixed(2)} over the last; headroom ${bound.toFixed(3)}× (the experts' imbalance is ${imbalanceMs.toFixed(1)} ms of a ${stepMs.toFixed(1)} ms step)`;
  const did = replans > 0
    ? `${replans} re-plan(s)`
    : isFixedPlacement(policy)
      ? `no re-plan: ${policy} keeps its placement`
      : bound < 1.05
        ? 'no re-plan: a perfect balance could win back under 5% of a step, less than moving experts costs'
        : "no re-plan: no plan's predicted gain beat the cost of moving its experts";
  return { balanceFirst, balanceLast, headroom: bound, text: `${saw}; ${did}` };
}
