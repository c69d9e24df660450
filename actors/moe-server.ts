/**
 * The serving actor: one per device. It holds a copy of the dense model and the experts the
 * placement gives its device, loaded from a checkpoint on the device itself (weights never pass
 * through the main thread), and runs forward passes on its share of each batch, meeting the other
 * devices in the MoE layers' all-to-alls. No gradients, no optimizer state.
 */
import { Actor, registerActor, type ActorContext } from '../src/runtime/actor.js';
import { Arena } from '../src/tensor/arena.js';
import { createBackend, type Backend } from '../src/kernels/backend.js';
import { buildServingModel, describeModel, loadParameters, type ServingModel } from '../src/serve/build.js';
import { DistributedMoELayer } from '../src/moe/distributed-moe.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { sendToNewReplicas } from '../src/moe/replica-transfer.js';

export interface MoEServerArgs {
  checkpoint: string;
  /** replicas[layer][e] = devices holding expert e in that MoE layer. */
  replicas: number[][][];
  backend: string;
}

export type ServerMessage =
  /** This device's rows; `pick[r]` = the position of row r whose logits come back (language models). */
  | { type: 'forward'; inputs: Int32Array | Float32Array; rows: number; pick?: number[] }
  | { type: 'placement'; replicas: number[][][] };

export interface ForwardReport {
  /** rows × outputs (vocabulary or classes). */
  logits: Float32Array;
  /** Per MoE layer, this device's assignments per expert. */
  counts: number[][];
  ms: number;
}

export class MoEServer extends Actor {
  static override actorName = 'MoEServer';
  private args: MoEServerArgs;
  private be!: Backend;
  private model!: ServingModel;
  private layers: DistributedMoELayer[] = [];
  private readonly arena = new Arena();

  constructor(args: MoEServerArgs) {
    super();
    this.args = args;
  }

  override async started(ctx: ActorContext): Promise<void> {
    this.be = await createBackend(this.args.backend);
    const ckpt = loadCheckpoint(this.args.checkpoint);
    const { dModel } = describeModel(this.args.checkpoint, ckpt.meta);
    this.model = buildServingModel(this.be, this.args.checkpoint, ckpt.meta, (block, o) => {
      const comm = { device: ctx.device, devices: ctx.devices, collectives: ctx.collectives, replicas: () => this.args.replicas[block]! };
      const layer = new DistributedMoELayer(this.be, dModel, o, comm);
      // Routing at inference is per token (no capacity), so the router needs no global statistics.
      layer.gate.reduce = async (v) => v;
      this.layers.push(layer);
      return layer;
    });
    const hosted = new Set(this.layers.flatMap((l) => l.hosted()));
    const absent = new Set(this.layers.flatMap((l) => l.experts.flatMap((x, e) => (hosted.has(e) ? [] : x.parameters()))));
    loadParameters(this.model, ckpt, this.args.checkpoint, absent);
  }

  async receive(msg: ServerMessage, ctx: ActorContext): Promise<ForwardReport | number> {
    if (msg.type === 'placement') return this.place(msg.replicas, ctx);
    const t0 = performance.now();
    // A pass keeps nothing: its scratch tensors come from the arena and go back to it at the end.
    return this.arena.use(async () => {
      const logits = (await this.model.forward(msg.inputs, msg.rows, msg.pick)).slice();
      return { logits, counts: this.layers.map((l) => Array.from(l.lastRouting?.counts ?? [])), ms: performance.now() - t0 };
    });
  }

  /** Switches placement between two passes; new replicas receive weights only. Returns the bytes received here. */
  private async place(next: number[][][], ctx: ActorContext): Promise<number> {
    const received = await sendToNewReplicas(ctx.collectives, ctx.device, this.args.replicas, next, (l, e) => this.layers[l]!.experts[e]!.parameters().map((p) => p.value));
    this.args = { ...this.args, replicas: next };
    return received;
  }

  /** Rebuilt from its arguments (the checkpoint and the placement it last had) after a crash. */
  override snapshot(): unknown {
    return { args: this.args };
  }
}
registerActor(MoEServer);
