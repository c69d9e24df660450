import { Subject } from 'rxjs';
import { balanceRatio, deviceLoads, withShadows } from '../sched/placement.js';
import type { ModelInfo } from './build.js';
import type { Engine, ForwardResult } from './engine.js';

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
  /** Forward passes in which some expert was shadowed (fastermoe, flexmoe-react). */
  shadowedPasses = 0;
  /** Per MoE layer, assignments per expert since the model was loaded. */
  readonly expertLoad: number[][];
  /** Per MoE layer, the balance ratio of the last pass. */
  balanceRatio: number[];
  readonly passes$ = new Subject<PassEvent>();
  /** Milliseconds of forward passes, in all. */
  passMs = 0;
  /** Per device, milliseconds its experts computed, in all (devices only). */
  readonly expertMs: number[];
  /**
   * Over the passes and their MoE layers, the busiest device's expert time above the devices' mean,
   * in all: what a perfect, free balance would have taken off the passes (devices meet in every MoE layer).
   */
  expertImbalanceMs = 0;

  constructor(info: ModelInfo, private readonly engine: Engine) {
    this.expertLoad = Array.from({ length: info.moeLayers }, () => new Array(info.experts).fill(0));
    this.balanceRatio = new Array(info.moeLayers).fill(1);
    this.expertMs = new Array(engine.devices).fill(0);
    engine.events$.subscribe((e) => e.type === 'replan' && this.replans++);
  }

  done(op: string): void {
    this.completed[op] = (this.completed[op] ?? 0) + 1;
  }

  failed(op: string): void {
    this.failures[op] = (this.failures[op] ?? 0) + 1;
  }

  pass(rows: number, ms: number, { counts, shadows, deviceExpertMs, expertImbalanceMs }: ForwardResult, reps: number[][][], queue: number): void {
    this.passes++;
    this.rows += rows;
    this.passMs += ms;
    deviceExpertMs?.forEach((x, d) => (this.expertMs[d]! += x));
    this.expertImbalanceMs += expertImbalanceMs ?? 0;
    if (shadows?.some((s) => s.length)) this.shadowedPasses++;
    counts.forEach((c, l) => c.forEach((n, e) => (this.expertLoad[l]![e]! += n)));
    // A shadowed expert ran on every device, each on its own rows (split evenly by position).
    this.balanceRatio = counts.map((c, l) => balanceRatio(deviceLoads(c, withShadows({ devices: this.engine.devices, replicas: () => reps[l]! }, shadows?.[l]))));
    this.passes$.next({ rows, ms, queue, balanceRatio: this.balanceRatio });
  }
}
