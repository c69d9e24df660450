import { errors } from '../errors.js';
import { profileByName, type CostProfile } from '../sched/cost.js';
import { readProfileFile } from '../sched/profile-file.js';
import { sourceOf, type SimJob } from '../sched/simulate-job.js';
import { simulateJobs } from '../sched/simulate-pool.js';
import { availableParallelism } from 'node:os';
import { speedups, type PolicyReport } from '../sched/simulate.js';
import { makePolicy } from '../sched/policies/index.js';
import { hottestOverMean, parseWorkload } from '../sched/workload.js';
import { moduleUrls } from '../runtime/thread.js';
import { intFlag, type Flags } from './args.js';
import { importUserModule } from '../runtime/modules.js';

export const simulateHelp = `flexmoe simulate (--trace FILE | --workload zipf:S[,drift][,burst][,transient] --experts E --topk k --steps N)
                 --devices D --slots S [--policies static,capacity,fastermoe,eplb,flexmoe,flexmoe-react,foresight,oracle]
                 [--profile cluster-a100|FILE.json] [--tokens T] [--seed S] [--module FILE] [--threads N] [--json]
  Steps every policy through the same routing on simulated hardware and compares step times;
  --threads N runs one policy per task on a pool of N worker threads (default 1: in this thread).
  --module FILE loads a module that registers policies of your own (registerPolicy) to name in --policies.
  flexmoe plans beside steps from recent load (as live training does); flexmoe-react also plans
  after gating when an expert surges, holding that step (simulator only), and shadows experts its
  placement cannot absorb within the step (live too). Bounds: oracle (a free perfect split),
  foresight (FlexMoE's planner on each step's own routing, paying for its moves) and foresight-free
  (the same with free moves; name it in --policies).`;

function profileFrom(flags: Flags): CostProfile {
  const p = typeof flags.profile === 'string' ? flags.profile : 'cluster-a100';
  if (!p.endsWith('.json')) return profileByName(p);
  return readProfileFile(p);
}

/** `flexmoe simulate`: the policy comparison, as a table or JSON lines. */
export async function simulateCommand(flags: Flags): Promise<void> {
  if (typeof flags.module === 'string') await importUserModule(moduleUrls([flags.module])[0]!);
  else if (flags.module !== undefined) throw errors.badArgument('--module', 'expected a file that registers policies (registerPolicy)');
  let routing: SimJob['routing'];
  if (typeof flags.trace === 'string') routing = { trace: flags.trace };
  else {
    if (typeof flags.workload !== 'string') throw errors.badArgument('simulate', 'give --trace FILE or --workload SPEC');
    parseWorkload(flags.workload);
    routing = { workload: flags.workload, experts: intFlag(flags, 'experts', 64, 1, 1 << 16), topk: intFlag(flags, 'topk', 2, 1, 1 << 16), steps: intFlag(flags, 'steps', 200, 1, 1 << 20), tokens: intFlag(flags, 'tokens', 4096, 1, 1 << 24), seed: intFlag(flags, 'seed', 1) };
  }
  // Read here first: a bad trace or workload is refused before any thread starts.
  const source = sourceOf(routing);
  const devices = intFlag(flags, 'devices', 16, 1, 1 << 16);
  const slots = intFlag(flags, 'slots', Math.max(2, Math.ceil(source.experts / devices) * 2), 1);
  const policies = (typeof flags.policies === 'string' ? flags.policies : 'static,capacity,fastermoe,eplb,flexmoe,flexmoe-react,foresight,oracle').split(',');
  for (const p of policies) makePolicy(p); // an unknown name is an error here, naming the known ones
  // With --threads N > 1, one policy per task on a pool of N worker threads. Not the default: a
  // single comparison is bound by its slowest policy, and starting workers costs about what the
  // others save (bench/simulate-pool.ts measures the pool on a whole suite).
  const profile = profileFrom(flags), steps = typeof flags.steps === 'string' ? intFlag(flags, 'steps', 0) : undefined;
  const modules = typeof flags.module === 'string' ? moduleUrls([flags.module]) : [];
  const threads = intFlag(flags, 'threads', 1, 1, Math.max(1, availableParallelism() * 4));
  const job = (p: string[]): SimJob => ({ routing, devices, slots, profile, policies: p, steps, modules });
  // In this thread every policy steps through one routing source together; on a pool, one each.
  const jobs = threads > 1 ? policies.map((p) => job([p])) : [job(policies)];
  const reports = (await simulateJobs(jobs, threads)).flat();
  const speedup = speedups(reports);
  // A ratio of Infinity or NaN means an input priced a step at 0 or ∞: an error, not a table cell.
  for (const [k, v] of Object.entries(speedup)) if (!Number.isFinite(v)) throw errors.badArgument('simulate', `the ratio ${k} came out ${v}: a step was priced at ${v === Infinity ? '0' : 'no finite'} ms; check the trace's counts and the profile`);
  for (const r of reports) if (!Number.isFinite(r.meanStepMs)) throw errors.badArgument('simulate', `policy ${r.policy}'s mean step came out ${r.meanStepMs} ms; check the trace's counts and the profile`);
  // How skewed the routing is, beside what learned routers show: the comparison means little without it.
  const skew = hottestOverMean(source);
  if (flags.json === true) {
    for (const r of reports) process.stdout.write(`${JSON.stringify(summary(r))}\n`);
    process.stdout.write(`${JSON.stringify({ speedup: roundAll(speedup), hottestOverMean: round(skew) })}\n`);
    return;
  }
  const rows = reports.map((r) => {
    const s = summary(r);
    return [s.policy, s.meanStepMs, s.p95StepMs, s.balanceRatio, `${(s.droppedFraction * 100).toFixed(1)}%`, s.replans, (s.migratedBytes / 2 ** 20).toFixed(0), `${s.planMsMean}/${s.planMsMax}`].map(String);
  });
  const head = ['policy', 'mean ms', 'p95 ms', 'balance', 'dropped', 'replans', 'moved MiB', 'plan ms mean/max'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`${source.experts} experts, top-${source.topk}, ${devices} devices × ${slots} slots; a layer's hottest expert takes ${skew.toFixed(2)}× the mean (median; learned routers show about 1.1–1.5×)\n${line(head)}\n${rows.map(line).join('\n')}\n`);
  // One line per policy compared (flexmoe/…, flexmoe-react/…), so the ratios stay readable.
  const lines = new Map<string, string[]>();
  for (const [k, v] of Object.entries(speedup)) {
    const of = k.slice(0, k.indexOf('/'));
    lines.set(of, [...(lines.get(of) ?? []), `${k} ${v.toFixed(2)}x`]);
  }
  for (const parts of lines.values()) process.stdout.write(`${parts.join('   ')}\n`);
}

function summary(r: PolicyReport) {
  return {
    policy: r.policy, meanStepMs: round(r.meanStepMs), p95StepMs: round(r.p95StepMs), balanceRatio: round(r.balanceRatio),
    droppedFraction: round(r.droppedFraction), replans: r.replans, migratedBytes: r.migratedBytes, planMsMean: round(r.planMsMean), planMsMax: round(r.planMsMax),
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
const roundAll = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v)]));
