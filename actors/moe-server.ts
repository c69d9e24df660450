/**
 * The serving actor: one per device. It holds a copy of the dense model, loaded from a checkpoint
 * on the device itself (weights never pass through the main thread), and runs forward passes on
 * its share of each batch, meeting the other devices in the MoE layers' all-to-alls. Each MoE
 * layer's router is a gate actor and its experts are expert actors on the devices the placement
 * names (weights only, read from the same checkpoint); the layers send the experts their rows as
 * messages (src/runtime/row-post.ts), and a placement change clones, migrates or stops expert
 * actors between two passes. No gradients, no optimizer state.
 */
import { Actor, registerActor, type ActorContext } from '../src/runtime/actor.js';
import { Arena } from '../src/tensor/arena.js';
import { sharedBackend, type Backend } from '../src/kernels/backend.js';
import { buildServingModel, describeModel, loadParameters, type ServingModel } from '../src/serve/build.js';
import { loadCheckpointShared } from '../src/train/checkpoint.js';
import { MoEWiring, type MoEActors, type MoELayerSpec, type ShadowingArgs } from './moe-wiring.js';

export interface MoEServerArgs {
  checkpoint: string;
  backend: string;
  /** Expert shadowing in every MoE layer, chosen each pass after gating (fastermoe, flexmoe-react). */
  shadowing?: ShadowingArgs;
  /** Every hosted expert's buffer padded to the pass's largest expert (the static policy: DeepSpeed dropless). */
  padMax?: boolean;
}

export type ServerMessage =
  /** This device's rows; `pick[r]` = the position of row r whose logits come back (language models). */
  | { type: 'forward'; inputs: Int32Array | Float32Array; rows: number; pick?: number[] }
  /** What the driver needs to make the gate and expert actors. */
  | { type: 'specs' }
  /** The placement and the gate and expert actors carrying it out (at boot and after every change). */
  | { type: 'attach'; replicas: number[][][]; actors: MoEActors };

export interface ForwardReport {
  /** rows × outputs (vocabulary or classes). */
  logits: Float32Array;
  /** Per MoE layer, this device's assignments per expert. */
  counts: number[][];
  /** Per MoE layer, the experts shadowed in this pass (the same on every device; fastermoe, flexmoe-react). */
  shadows: number[][];
  ms: number;
  /** Of ms, the time this device's experts computed, per MoE layer. */
  expertMs: number[];
}

export class MoEServer extends Actor {
  static override actorName = 'MoEServer';
  private args: MoEServerArgs;
  private be!: Backend;
  private model!: ServingModel;
  private moe!: MoEWiring;
  private readonly arena = new Arena();

  constructor(args: MoEServerArgs) {
    super();
    this.args = args;
  }

  override async started(ctx: ActorContext): Promise<void> {
    this.be = await sharedBackend(this.args.backend);
    const ckpt = loadCheckpointShared(this.args.checkpoint);
    const { dModel } = describeModel(this.args.checkpoint, ckpt.meta);
    this.moe = new MoEWiring(ctx, this.be, dModel, this.args.shadowing, this.args.padMax === true);
    this.model = buildServingModel(this.be, this.args.checkpoint, ckpt.meta, this.moe.makeMoE);
    // The MoE layers have no parts until the actors are attached: this loads the dense parameters
    // (the gate and expert actors load theirs).
    loadParameters(this.model, ckpt, this.args.checkpoint, undefined, /\.(expert\d+|gate)\./);
  }

  async receive(msg: ServerMessage): Promise<ForwardReport | MoELayerSpec[] | void> {
    if (msg.type === 'specs') return this.moe.specs;
    if (msg.type === 'attach') return this.moe.attach(msg.replicas, msg.actors);
    const t0 = performance.now();
    // A pass keeps nothing: its scratch tensors come from the arena and go back to it at the end.
    return this.arena.use(async () => {
      const logits = (await this.model.forward(msg.inputs, msg.rows, msg.pick)).slice();
      const layers = this.moe.layers;
      return { logits, counts: layers.map((l) => Array.from(l.lastRouting?.counts ?? [])), shadows: layers.map((l) => [...l.lastShadows]), ms: performance.now() - t0, expertMs: layers.map((l) => l.forwardExpertMs) };
    });
  }

  /** Rebuilt from its arguments after a crash (the engine then attaches the current actors). */
  override snapshot(): unknown {
    return { args: this.args };
  }
}
registerActor(MoEServer);
