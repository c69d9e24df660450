// A device-side probe: times `iterations` in-place all-reduces of a tensor over all devices. Used by
// `flexmoe calibrate` (the replica all-reduce a step actually pays) and by bench/channels.ts.
import { Actor, registerActor, type ActorContext } from '../runtime/actor.js';
import { errors } from '../errors.js';
import { Tensor, type F32 } from '../tensor/tensor.js';

export class AllReduceProbe extends Actor {
  static override actorName = 'AllReduceProbe';
  /**
   * `path`: `shared` (default) reduces a tensor of its own over shared memory, `staged` one written
   * straight into the device's shared region, `channels` one sent over the rings.
   */
  async receive(msg: { floats: number; iterations: number; path?: 'shared' | 'staged' | 'channels'; /** The devices taking part (default all). */ group?: number[] }, ctx: ActorContext): Promise<number[]> {
    const staged = msg.path === 'staged' ? ctx.collectives.staging(msg.floats) : null;
    if (msg.path === 'staged' && !staged) throw errors.collective(`all-reduce probe: ${msg.floats} floats do not fit the shared region`);
    const x = staged ?? (Tensor.zeros([msg.floats]) as F32);
    const tag = msg.path === 'channels' ? 1000 : undefined;
    // Staged, the sum lands in a vector of the caller's, as the gradient sync takes it back.
    const out = staged ? new Float32Array(msg.floats) : null;
    const members = msg.group ?? [...Array(ctx.devices).keys()];
    const expected = members.reduce((n, d) => n + d + 1, 0);
    const times: number[] = [];
    for (let i = 0; i < msg.iterations; i++) {
      x.data.fill(ctx.device + 1); // all-reduce is in place
      const t0 = performance.now();
      if (out) await ctx.collectives.allReduceInto(x, [{ dst: out, from: 0 }], msg.group);
      else await ctx.collectives.allReduce(x, msg.group, tag);
      times.push(performance.now() - t0);
      const sum = (out ?? x.data)[0];
      if (sum !== expected) throw errors.collective(`all-reduce probe: got ${sum}, expected ${expected}`);
    }
    return times;
  }
}
registerActor(AllReduceProbe);
