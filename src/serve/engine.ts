import type { Observable } from 'rxjs';
import type { PlacementOp } from '../sched/placement.js';

export interface ForwardResult {
  /** rows × outputs. */
  logits: Float32Array;
  /** Per MoE layer, assignments per expert in this forward pass (all devices). */
  counts: number[][];
  /** Per MoE layer, the experts shadowed in this pass (fastermoe, flexmoe-react); absent or empty otherwise. */
  shadows?: number[][];
  /** Per device, the milliseconds its experts computed in this pass (devices only). */
  deviceExpertMs?: number[];
  /** Over the MoE layers, how far the busiest device's expert time was above the devices' mean (devices only). */
  expertImbalanceMs?: number;
}

/** What a served model reports besides answers: placement changes, crashes and recoveries. */
export type ServeEvent =
  | {
      type: 'replan'; layer: number; ops: PlacementOp[]; version: number; replicas: number[][];
      /** The inference cost model's prediction for the layer on the last routing, and the move's cost (ms). */
      predictedMsBefore: number; predictedMsAfter: number; migrationMs: number;
      /** Measured: the time the devices took to switch, and the weight bytes sent to new replicas. */
      switchMs: number; bytes: number;
    }
  | { type: 'device-crashed'; message: string }
  | { type: 'recovered'; ms: number };

/** Where a served model's forward passes run: in the calling thread, or on devices (worker threads). */
export interface Engine {
  readonly devices: number;
  readonly events$: Observable<ServeEvent>;
  /** False while the engine rebuilds after a crash, or when it cannot come back. */
  readonly healthy: boolean;
  /** `ok`, `recovering` (rebuilding after a crash) or `failed` (it will not come back; close it). */
  readonly state: 'ok' | 'recovering' | 'failed';
  /** replicas[layer][e] = devices holding expert e. */
  replicas(): number[][][];
  forward(inputs: Int32Array | Float32Array, rows: number, pick?: number[]): Promise<ForwardResult>;
  close(): Promise<void>;
}
