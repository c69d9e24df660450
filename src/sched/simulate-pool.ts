import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { runSimJob, type SimJob } from './simulate-job.js';
import type { PolicyReport } from './simulate.js';

/**
 * Runs simulations on a piscina pool of worker threads, one job per task, results in job order.
 * Simulations are stateless and CPU-bound, what a pool is for (devices are not: they hold state
 * and need supervision). With one thread, or one job, they run here.
 */
export async function simulateJobs(jobs: readonly SimJob[], threads = availableParallelism()): Promise<PolicyReport[][]> {
  const n = Math.max(1, Math.min(threads, jobs.length));
  if (n === 1) {
    const out: PolicyReport[][] = [];
    for (const j of jobs) out.push(await runSimJob(j));
    return out;
  }
  const here = new URL(import.meta.url);
  const fromSources = here.pathname.endsWith('.ts');
  const pool = new Piscina({ filename: fileURLToPath(new URL(fromSources ? './simulate-worker.mjs' : './simulate-job.js', here)), minThreads: n, maxThreads: n });
  try {
    return await Promise.all(jobs.map((j) => pool.run(j) as Promise<PolicyReport[]>));
  } finally {
    await pool.destroy();
  }
}
