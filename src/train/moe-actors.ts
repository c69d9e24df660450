import type { ActorRef } from '../runtime/actor.js';
import type { ActorSystem } from '../runtime/system.js';
import type { AdamWOptions } from '../nn/adamw.js';
import type { MoEActors, MoELayerSpec } from '../../actors/moe-wiring.js';
import type { ExpertArgs } from '../../actors/expert.js';
import type { GateArgs } from '../../actors/gate.js';

export interface PartOptions {
  backend: string;
  /** Training: every gate and expert gets an AdamW with these settings. Absent: serving, weights only. */
  optimizer?: AdamWOptions;
  /** Weights from this checkpoint (each actor reads its own on its device) instead of the seeds. */
  checkpoint?: string;
  /** Serving: gates route per token, without all-reducing routing statistics. */
  localRouting?: boolean;
}

/** What a placement change did to one layer's expert actors through the runtime. */
export interface PlacementMoves {
  cloned: number;
  migrated: number;
  stopped: number;
}

/**
 * Makes every MoE layer's actors: one gate per layer, spawned on device 0 and cloned onto every
 * other device (routing is data parallel), and each expert spawned where the placement first puts
 * it and cloned onto its other devices. Initialised from the layer's seeds, so every part starts
 * exactly as the one-process model's.
 */
export async function spawnMoEActors(system: ActorSystem, specs: MoELayerSpec[], replicas: number[][][], o: PartOptions): Promise<MoEActors> {
  const D = system.options.devices;
  const gates = await Promise.all(specs.map(async (s) => {
    const args: GateArgs = { name: `${s.seeds.name}.gate`, dModel: s.dModel, options: s.gate, seed: s.seeds.gate, dtype: s.dtype, backend: o.backend, optimizer: o.optimizer, checkpoint: o.checkpoint, global: !o.localRouting };
    const first = await system.spawn('Gate', args, { device: 0 });
    return [first, ...(await Promise.all([...Array(D).keys()].slice(1).map((d) => system.clone(first, d))))];
  }));
  const experts = await Promise.all(specs.map((s, l) => Promise.all(s.seeds.experts.map(async (seed, e) => {
    const args: ExpertArgs = { name: `${s.seeds.name}.expert${e}`, dModel: s.dModel, dFF: s.dFF, kind: s.expert, seed, dtype: s.dtype, outStd: s.outStd, backend: o.backend, optimizer: o.optimizer, checkpoint: o.checkpoint };
    const [home, ...more] = replicas[l]![e]!;
    const first = await system.spawn('Expert', args, { device: home });
    return [first, ...(await Promise.all(more.map((d) => system.clone(first, d))))];
  }))));
  return { gates, experts };
}

/** The runtime's placement primitives: the actor system itself, or an actor's context (the scheduler actor). */
export interface Placer {
  clone(target: ActorRef, device: number): Promise<ActorRef>;
  migrate(target: ActorRef, device: number): Promise<ActorRef>;
  stop(target: ActorRef): Promise<void>;
}

/**
 * Carries out a placement change with the runtime's placement primitives, expert by expert (experts
 * in parallel): a replica that leaves one device for another migrates, a device that gains a
 * replica gets a clone of one that stays, a device that loses one stops it. State moves device to
 * device over the channels. Called between steps, when no expert is computing.
 */
export async function applyPlacement(system: Placer, actors: MoEActors, before: number[][][], after: number[][][]): Promise<{ actors: MoEActors; moves: PlacementMoves[] }> {
  const perLayer: PlacementMoves[] = actors.experts.map(() => ({ cloned: 0, migrated: 0, stopped: 0 }));
  const experts = await Promise.all(actors.experts.map((layer, l) => Promise.all(layer.map(async (refs, e) => {
    const moves = perLayer[l]!;
    const was = before[l]![e]!, now = after[l]![e]!;
    const gained = now.filter((d) => !was.includes(d)), lost = was.filter((d) => !now.includes(d));
    if (!gained.length && !lost.length) return refs;
    const at = (d: number) => refs.find((r) => r.device === d)!;
    const kept = refs.filter((r) => now.includes(r.device));
    const next: ActorRef[] = [...kept];
    const pairs = Math.min(gained.length, lost.length);
    // Clones first, from a replica that stays (or any, before it moves); then moves, then stops.
    const source = kept[0] ?? at(lost[0]!);
    for (const d of gained.slice(pairs)) {
      next.push(await system.clone(source, d));
      moves.cloned++;
    }
    for (let i = 0; i < pairs; i++) {
      next.push(await system.migrate(at(lost[i]!), gained[i]!));
      moves.migrated++;
    }
    for (const d of lost.slice(pairs)) {
      await system.stop(at(d));
      moves.stopped++;
    }
    return next.sort((a, b) => a.device - b.device);
  }))));
  return { actors: { gates: actors.gates, experts }, moves: perLayer };
}
