// The device side of bench/control.ts: answers every ask with its message.
import { Actor, registerActor } from '../src/runtime/actor.js';

class Echo extends Actor {
  static override actorName = 'Echo';
  receive(message: unknown) {
    return message;
  }
}
registerActor(Echo);
