/**
 * How an actor that runs a model (a trainer, a server) wires its MoE layers to the gate and expert
 * actors its device hosts. The model's build gets `makeMoE`, which makes each MoE layer without
 * parts of its own and records what the driver needs to create them (`specs`); once the driver has
 * spawned them, `attach` gives each layer its gate on this device (`ctx.local`, a direct call) and
 * the refs of every expert replica, wherever it is (the layer sends them rows as messages through
 * this device's RowPost), and again after every placement change.
 */
import { errors } from '../src/errors.js';
import type { ActorContext, ActorRef } from '../src/runtime/actor.js';
import type { MakeMoE } from '../src/models/tasks.js';
import { DistributedMoELayer, type MoEPartSeeds, type Shadowing } from '../src/moe/distributed-moe.js';
import type { GateOptions } from '../src/moe/gate.js';
import type { Backend } from '../src/kernels/backend.js';
import { makeExpert, type Expert } from '../src/moe/experts.js';
import type { ParamDType } from '../src/nn/parameter.js';
import { Rng } from '../src/nn/random.js';
import type { CostProfile } from '../src/sched/cost.js';
import { Placement } from '../src/sched/placement.js';
import { makePolicy } from '../src/sched/policies/index.js';
import { outsideArena } from '../src/tensor/arena.js';
import type { ExpertActor } from './expert.js';
import type { GateActor } from './gate.js';
import { RowPost, type RowHandler } from '../src/runtime/row-post.js';

/** What the driver needs to make a layer's gate and expert actors exactly as the layer would. */
export interface MoELayerSpec {
  seeds: MoEPartSeeds;
  dModel: number;
  dFF: number;
  /** The expert class's registered name (default `ffn`). */
  expert?: string;
  /** The gate's options, its class's registered name (`kind`) among them. */
  gate: GateOptions;
  dtype?: ParamDType;
  outStd?: number;
}

/** The actors of every MoE layer: gates[l] is this layer's gate replica group, experts[l][e] the refs of expert e's replicas. */
export interface MoEActors {
  gates: ActorRef[][];
  experts: ActorRef[][][];
}

/**
 * Expert shadowing within each step (src/moe/shadows.ts): every device asks the policy's
 * `dispatch`, with the step's routing matrix and the placement in force, and shadows the experts a
 * `shadow` dispatch names (FasterMoE's greedy; flexmoe-react's surge shadows). The policy's dispatch
 * must depend on nothing else, so that every device gets the same answer.
 */
export interface ShadowingArgs {
  policy: string;
  profile: CostProfile;
  slots: number;
  topk: number;
}

export class MoEWiring {
  readonly layers: DistributedMoELayer[] = [];
  readonly specs: MoELayerSpec[] = [];
  /** replicas[layer][e] = devices holding expert e (the placement in force). */
  replicas: number[][][] = [];
  private actors: MoEActors | null = null;
  /** Scratch copies of shadowed experts, by `layer:expert`, kept for reuse. */
  private readonly copies = new Map<string, Expert>();

  /** Rows travel to expert actors as messages: this device's post for them, shared by every layer. */
  private readonly post: RowPost;

  constructor(private readonly ctx: ActorContext, private readonly be: Backend, private readonly dModel: number, private readonly shadow?: ShadowingArgs, private readonly padMax = false) {
    this.post = new RowPost(ctx.collectives, (ref) => {
      const actor = ctx.local(ref);
      return actor && typeof (actor as Partial<RowHandler>).rows === 'function' ? (actor as unknown as RowHandler) : undefined;
    });
  }

  get devices(): number {
    return this.ctx.devices;
  }

  /** For a model's build: MoE layers numbered in the order the model makes them (its depth order). */
  readonly makeMoE: MakeMoE = (_block, o) => {
    const index = this.layers.length, ctx = this.ctx;
    const comm = { device: ctx.device, devices: ctx.devices, collectives: ctx.collectives, replicas: () => this.replicas[index]!, post: this.post };
    const layer = new DistributedMoELayer(this.be, this.dModel, o, comm);
    const { experts, topk, kind, auxCoef, zCoef, capacityFactor, noiseStd, routerSkew, routing, routingSteps, biasRate } = o;
    // Unset options stay unset (an explicit undefined would override the gate's defaults).
    const gate = Object.fromEntries(Object.entries({ kind, auxCoef, zCoef, capacityFactor, noiseStd, routerSkew, routing, routingSteps, biasRate }).filter(([, v]) => v !== undefined));
    this.specs.push({ seeds: layer.seeds, dModel: layer.dModel, dFF: o.dFF, expert: o.expert, gate: { experts, topk, ...gate }, dtype: o.dtype, outStd: o.outStd });
    this.layers.push(layer);
    return layer;
  };

  /** Takes a placement and the actors carrying it out; every layer resolves its parts on this device. */
  attach(replicas: number[][][], actors: MoEActors): void {
    const me = this.ctx.device;
    this.replicas = replicas;
    this.actors = actors;
    this.layers.forEach((layer, l) => {
      const gate = this.gateActor(l);
      if (!gate) throw errors.badArgument('attach', `no gate actor of MoE layer ${l} on device ${me}`);
      for (const e of layer.hosted()) if (!this.expertActor(l, e)) throw errors.badArgument('attach', `the placement puts expert ${e} of MoE layer ${l} on device ${me}, but no expert actor of it lives here`);
      layer.attach({ gate: gate.gate, expert: (e) => this.expertActor(l, e)?.expert, replica: (e, d) => actors.experts[l]?.[e]?.find((r) => r.device === d), shadowing: this.shadowing(l), padMax: this.padMax });
    });
  }

  private shadowing(l: number): Shadowing | undefined {
    const args = this.shadow;
    if (!args) return undefined;
    const be = this.be, D = this.ctx.devices;
    const policy = makePolicy(args.policy);
    return {
      choose: (routed, replicas) => {
        const hosts = Array.from({ length: D }, (_, d) => replicas.flatMap((r, e) => (r.includes(d) ? [e] : [])));
        const placement = new Placement(D, args.slots, replicas.length, hosts);
        const dispatch = policy.dispatch({ step: 0, history: [], current: routed.map((r) => Float64Array.from(r)), topk: args.topk }, placement, args.profile);
        return dispatch.mode === 'shadow' ? dispatch.shadows : [];
      },
      scratch: (e) => {
        const key = `${l}:${e}`;
        let copy = this.copies.get(key);
        if (!copy) {
          const spec = this.specs[l]!;
          // Made during a step, kept across steps: its storage must not come from the step's arena.
          copy = outsideArena(() => makeExpert(be, spec.expert, { name: `${spec.seeds.name}.expert${e}.shadow`, dModel: spec.dModel, dFF: spec.dFF, rng: new Rng(0), dtype: spec.dtype, outStd: spec.outStd, skipInit: true }));
          this.copies.set(key, copy);
        }
        return copy;
      },
    };
  }

  expertActor(layer: number, e: number): ExpertActor | undefined {
    const ref = this.actors?.experts[layer]?.[e]?.find((r) => r.device === this.ctx.device);
    return ref && this.ctx.local<ExpertActor>(ref);
  }

  gateActor(layer: number): GateActor | undefined {
    const ref = this.actors?.gates[layer]?.find((r) => r.device === this.ctx.device);
    return ref && this.ctx.local<GateActor>(ref);
  }

  /** The expert actors this device hosts, by layer. */
  hosted(): { layer: number; expert: number; actor: ExpertActor }[] {
    return this.layers.flatMap((layer, l) => layer.hosted().map((e) => ({ layer: l, expert: e, actor: this.expertActor(l, e)! })));
  }
}
