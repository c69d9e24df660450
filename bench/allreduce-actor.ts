// Device-side half of the all-reduce benchmark: times `iterations` all-reduces of a tensor.
import { Actor, registerActor, type ActorContext } from '../src/runtime/actor.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';

class AllReduceBench extends Actor {
  static override actorName = 'AllReduceBench';
  async receive(msg: { floats: number; iterations: number }, ctx: ActorContext) {
    const x = Tensor.zeros([msg.floats]) as F32;
    const times: number[] = [];
    for (let i = 0; i < msg.iterations; i++) {
      x.data.fill(ctx.device + 1); // all-reduce is in place
      const t0 = performance.now();
      const y = await ctx.collectives.allReduce(x);
      times.push(performance.now() - t0);
      if (y.data[0] !== 3) throw new Error(`all-reduce gave ${y.data[0]}, expected 3`);
    }
    return times;
  }
}
registerActor(AllReduceBench);
