// The device side of bench/clone.ts's baseline: moves a tensor of the same bytes as an expert's
// state from one device to the other over their channel, nothing else.
import { Actor, registerActor, type ActorContext } from '../src/runtime/actor.js';
import { Tensor } from '../src/tensor/tensor.js';

class Transfer extends Actor {
  static override actorName = 'Transfer';
  /** The sender's payload, made once per size (an expert's state exists before it is cloned). */
  private payload = new Float32Array(0);
  async receive(msg: { floats: number; from: number; tag: number }, ctx: ActorContext) {
    if (ctx.device === msg.from) {
      if (this.payload.length !== msg.floats) this.payload = new Float32Array(msg.floats).fill(1);
      return ctx.send(1 - msg.from, msg.tag, new Tensor('f32', [msg.floats], this.payload));
    }
    const t = await ctx.recv(msg.from, msg.tag);
    return t.size;
  }
}
registerActor(Transfer);
