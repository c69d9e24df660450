import { Subject } from 'rxjs';
import type { ModelInfo } from './build.js';
import type { Engine } from './engine.js';

/** One forward pass, as the service's metrics see it. */
export interface PassEvent {
  rows: number;
  ms: number;
  queue: number;
  /** Per MoE layer, max ÷ mean device expert load of this pass under the placement it ran with. */
  balanceRatio: number[];
}

/**
 * What a served model has done: requests by outcome, passes, per-expert load, balance and re-plans.
 * Plain counters for polling (a /metrics handler) and `passes$` for streaming (histograms).
 */
export class ServeStats {
  readonly completed: Record<string, number> = {};
  readonly failures: Record<string, number> = {};
  overloaded = 0;
  passes = 0;
  rows = 0;
  replans = 0;
  /** Per MoE layer, assignments per expert since the model was loaded. */
  readonly expertLoad: number[][];
  /** Per MoE layer, the balance ratio of the last pass. */
  balanceRatio: number[];
  readonly passes$ = new Subject<PassEvent>();
  /** Latency of completed requests by operation (ms), for whoever summarises them. */
  readonly latency$ = new Subject<{ op: string; ms: number }>();

  constructor(info: ModelInfo, private readonly engine: Engine) {
    this.expertLoad = Array.from({ length: info.moeLayers }, () => new Array(info.experts).fill(0));
    this.balanceRatio = new Array(info.moeLayers).fill(1);
    engine.events$.subscribe((e) => e.type === 'replan' && this.replans++);
  }

  done(op: string, ms: number): void {
    this.completed[op] = (this.completed[op] ?? 0) + 1;
    this.latency$.next({ op, ms });
  }

  failed(op: string): void {
    this.failures[op] = (this.failures[op] ?? 0) + 1;
  }

  pass(rows: number, ms: number, counts: number[][], reps: number[][][], queue: number): void {
    this.passes++;
    this.rows += rows;
    counts.forEach((c, l) => c.forEach((n, e) => (this.expertLoad[l]![e]! += n)));
    this.balanceRatio = counts.map((c, l) => deviceBalance(c, reps[l]!, this.engine.devices));
    this.passes$.next({ rows, ms, queue, balanceRatio: this.balanceRatio });
  }
}

/** max ÷ mean of the devices' expert loads when each expert's tokens split evenly over its replicas. */
export function deviceBalance(counts: number[], replicas: number[][], devices: number): number {
  const load = new Float64Array(devices);
  counts.forEach((n, e) => replicas[e]!.forEach((d) => (load[d]! += n / replicas[e]!.length)));
  const total = load.reduce((a, b) => a + b, 0);
  return total ? Math.max(...load) / (total / devices) : 1;
}
