// An actor used by examples/02-actors-and-channels.ts: sums a vector with its peers over the channels.
import { Actor, registerActor, Tensor, type ActorContext } from 'flexmoe';
import type { F32 } from 'flexmoe';

export class Reducer extends Actor {
  static override actorName = 'Reducer';
  async receive(msg: { values: number[] }, ctx: ActorContext) {
    const sum = await ctx.collectives.allReduce(Tensor.from(msg.values) as F32);
    return { device: ctx.device, sum: Array.from(sum.data) };
  }
}
registerActor(Reducer);
