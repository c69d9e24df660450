/**
 * The serving actor: one per device. It holds a copy of the dense model and the experts the
 * placement gives its device, loaded from a checkpoint on the device itself (weights never pass
 * through the main thread), and runs forward passes on its share of each batch, meeting the other
 * devices in the MoE layers' all-to-alls. No gradients, no optimizer state.
 */
import { Actor, registerActor, type ActorContext } from '../src/runtime/actor.js';
import { createBackend, type Backend } from '../src/kernels/backend.js';
import { buildServingModel, type ServingModel } from '../src/serve/build.js';
import { DistributedMoELayer } from '../src/moe/distributed-moe.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { errors } from '../src/errors.js';

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

  constructor(args: MoEServerArgs) {
    super();
    this.args = args;
  }

  override async started(ctx: ActorContext): Promise<void> {
    this.be = await createBackend(this.args.backend);
    const ckpt = loadCheckpoint(this.args.checkpoint);
    this.model = buildServingModel(this.be, this.args.checkpoint, ckpt.meta, (block, o) => {
      const comm = { device: ctx.device, devices: ctx.devices, collectives: ctx.collectives, replicas: () => this.args.replicas[block]! };
      const layer = new DistributedMoELayer(this.be, (ckpt.meta.config as { dModel: number }).dModel, o, comm);
      // Routing at inference is per token (no capacity), so the router needs no global statistics.
      layer.gate.reduce = async (v) => v;
      this.layers.push(layer);
      return layer;
    });
    const experts = new Set(this.layers.flatMap((l) => l.experts.flatMap((x) => x.parameters())));
    const hosted = new Set(this.layers.flatMap((l) => l.hosted().flatMap((e) => l.experts[e]!.parameters())));
    for (const p of this.model.net.parameters()) {
      // Experts this device does not host stay NaN: using one by mistake cannot go unnoticed.
      if (experts.has(p) && !hosted.has(p)) {
        p.value.data.fill(NaN);
        continue;
      }
      const t = ckpt.tensors.get(p.name);
      if (!t) throw errors.checkpoint(this.args.checkpoint, `lacks parameter ${p.name}`);
      p.value.data.set(t.data);
    }
  }

  async receive(msg: ServerMessage, ctx: ActorContext): Promise<ForwardReport | number> {
    if (msg.type === 'placement') return this.place(msg.replicas, ctx);
    const t0 = performance.now();
    const logits = await this.model.forward(msg.inputs, msg.rows, msg.pick);
    return { logits, counts: this.layers.map((l) => Array.from(l.lastRouting?.counts ?? [])), ms: performance.now() - t0 };
  }

  /**
   * Switches placement between two batches: a device gaining a replica receives the expert's weights
   * (weights only) from the lowest-numbered current holder by broadcast; every device walks layers
   * and experts in the same order, so the broadcasts pair up. Returns the bytes received here.
   */
  private async place(next: number[][][], ctx: ActorContext): Promise<number> {
    const me = ctx.device;
    let received = 0;
    for (let l = 0; l < this.layers.length; l++) {
      for (let e = 0; e < next[l]!.length; e++) {
        const before = this.args.replicas[l]![e]!, after = next[l]![e]!;
        const gaining = after.filter((d) => !before.includes(d));
        const source = Math.min(...before);
        if (!gaining.length || ![source, ...gaining].includes(me)) continue;
        const params = this.layers[l]!.experts[e]!.parameters().map((p) => p.value);
        const n = params.reduce((a, t) => a + t.size, 0);
        let flat: F32 | null = null;
        if (me === source) {
          flat = Tensor.zeros([n]) as F32;
          let at = 0;
          for (const t of params) (flat.data.set(t.data, at), (at += t.size));
        }
        const got = await ctx.collectives.broadcast(flat, source, [source, ...gaining]);
        if (me === source) continue;
        let at = 0;
        for (const t of params) (t.data.set(got.data.subarray(at, at + t.size)), (at += t.size));
        received += got.data.byteLength;
      }
    }
    this.args = { ...this.args, replicas: next };
    return received;
  }

  /** Rebuilt from its arguments (the checkpoint and the placement it last had) after a crash. */
  override snapshot(): unknown {
    return { args: this.args };
  }
}
registerActor(MoEServer);
