// A device-side probe: times `iterations` in-place all-reduces of a tensor over all devices. Used by
// `flexmoe calibrate` (the replica all-reduce a step actually pays) and by bench/channels.ts.
import { Actor, registerActor, type ActorContext } from '../runtime/actor.js';
import { errors } from '../errors.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import { copyBytes } from '../runtime/copy.js';

const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export class AllReduceProbe extends Actor {
  static override actorName = 'AllReduceProbe';
  /**
   * `path`: `shared` (default) reduces a tensor of its own over shared memory, `staged` one written
   * straight into the device's shared region, `channels` one sent over the rings. `crosscore` is no
   * all-reduce but its floor here: with every member's region freshly written, each member copies
   * the 2(n−1)/n of a vector that a bandwidth-optimal all-reduce brings to it from the others.
   */
  async receive(msg: { floats: number; iterations: number; path?: 'shared' | 'staged' | 'channels' | 'crosscore'; /** The devices taking part (default all). */ group?: number[] }, ctx: ActorContext): Promise<number[]> {
    if (msg.path === 'crosscore') return this.crossCore(msg.floats, msg.iterations, msg.group ?? [...Array(ctx.devices).keys()], ctx);
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

  private async crossCore(floats: number, iterations: number, members: number[], ctx: ActorContext): Promise<number[]> {
    const mine = ctx.collectives.staging(floats);
    if (!mine) throw errors.collective(`all-reduce probe: ${floats} floats do not fit the shared region`);
    const peers = members.filter((d) => d !== ctx.device);
    const share = Math.floor((2 * floats) / members.length);
    const views = peers.map((d) => ctx.collectives.regionView(d, share)!);
    const out = new Float32Array(share * peers.length);
    const barrier = () => ctx.collectives.allReduce(Tensor.zeros([1]) as F32, members);
    const times: number[] = [];
    for (let i = 0; i < iterations; i++) {
      mine.data.fill(ctx.device + 1);
      await barrier(); // every region written
      const t0 = performance.now();
      views.forEach((v, k) => copyBytes(bytes(out), bytes(v), k * share * 4)); // as the all-reduce copies
      times.push(performance.now() - t0);
      peers.forEach((d, k) => {
        if (out[k * share] !== d + 1) throw errors.collective(`all-reduce probe: read ${out[k * share]} from device ${d}, expected ${d + 1}`);
      });
      await barrier(); // nobody rewrites its region while a peer still reads it
    }
    return times;
  }
}
registerActor(AllReduceProbe);
