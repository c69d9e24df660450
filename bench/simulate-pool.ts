// bench/simulate.ts's 20 configurations (every policy each) run one after another in this thread,
// against the same jobs on a piscina pool of worker threads (one per core), in alternating rounds.
// The pool's results must equal the sequential ones. One JSON line.
// Usage: npx tsx bench/simulate-pool.ts [--quick]
import { availableParallelism, cpus } from 'node:os';
import { clusterA100 } from '../src/sched/cost.js';
import { runSimJob, type SimJob } from '../src/sched/simulate-job.js';
import { simulateJobs } from '../src/sched/simulate-pool.js';
import { median, round } from './harness.js';

const quick = process.argv.includes('--quick');
const workloads = quick ? ['zipf:1.5,drift', 'zipf:0'] : ['zipf:1,drift', 'zipf:1.5,drift', 'zipf:2,drift', 'zipf:1.5,drift,burst', 'zipf:0'];
const devicesList = quick ? [8, 16] : [8, 16, 32, 64];
const policies = ['static', 'static-unpadded', 'capacity', 'fastermoe', 'eplb', 'flexmoe', 'flexmoe-react', 'foresight', 'oracle'];
const jobs: SimJob[] = workloads.flatMap((workload) => devicesList.map((devices) => ({
  routing: { workload, experts: 64, topk: 2, steps: quick ? 60 : 200, tokens: 4096, seed: 1 },
  devices, slots: 2 * Math.max(1, 64 / devices), profile: clusterA100, policies,
})));
const threads = availableParallelism();
const seqMs: number[] = [], poolMs: number[] = [];
let same = true;
for (let round = 0; round < 2; round++) {
  let t0 = performance.now();
  const a: Awaited<ReturnType<typeof runSimJob>>[] = [];
  for (const j of jobs) a.push(await runSimJob(j));
  seqMs.push(performance.now() - t0);
  t0 = performance.now();
  const b = await simulateJobs(jobs, threads);
  poolMs.push(performance.now() - t0);
  same &&= a.every((reports, i) => reports.every((r, k) => r.meanStepMs === b[i]![k]!.meanStepMs && r.replans === b[i]![k]!.replans));
}
const s = median(seqMs), p = median(poolMs);
process.stdout.write(`${JSON.stringify({ bench: 'simulate-pool', cpu: cpus()[0]?.model, jobs: jobs.length, threads, sequentialMs: round(s), poolMs: round(p), speedup: round(s / p), sameResults: same })}\n`);
