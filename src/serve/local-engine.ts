import { Subject } from 'rxjs';
import { createBackend, type Backend } from '../kernels/backend.js';
import { Arena } from '../tensor/arena.js';
import type { LoadedCheckpoint } from '../train/checkpoint.js';
import { buildServingModel, loadParameters, type ModelInfo, type ServingModel } from './build.js';
import type { Engine, ForwardResult, ServeEvent } from './engine.js';

/** A checkpoint's model in the calling thread: every expert here, no placement to change. */
export class LocalEngine implements Engine {
  readonly devices = 1;
  readonly healthy = true;
  readonly state = 'ok' as const;
  readonly events$ = new Subject<ServeEvent>();
  private readonly arena = new Arena();

  private constructor(private readonly be: Backend, private readonly model: ServingModel, private readonly info: ModelInfo) {}

  static async start(path: string, ckpt: LoadedCheckpoint, info: ModelInfo, backend: string): Promise<LocalEngine> {
    const be = await createBackend(backend);
    try {
      const model = buildServingModel(be, path, ckpt.meta);
      loadParameters(model, ckpt, path);
      return new LocalEngine(be, model, info);
    } catch (e) {
      be.dispose();
      throw e;
    }
  }

  replicas(): number[][][] {
    return Array.from({ length: this.info.moeLayers }, () => Array.from({ length: this.info.experts }, () => [0]));
  }

  async forward(inputs: Int32Array | Float32Array, rows: number, pick?: number[]): Promise<ForwardResult> {
    // Scratch tensors of the pass come from the arena and return to it (see tensor/arena.ts).
    return this.arena.use(async () => {
      const logits = (await this.model.forward(inputs, rows, pick)).slice();
      return { logits, counts: this.model.net.moeLayers().map((l) => Array.from(l.lastRouting?.counts ?? [])) };
    });
  }

  async close(): Promise<void> {
    this.events$.complete();
    this.be.dispose();
  }
}
