// An actor used by examples/03-your-own-moe.ts: it adds up expert loads it is told about.
import { Actor, registerActor } from 'flexmoe';

export class LoadBook extends Actor {
  static override actorName = 'LoadBook';
  totals: number[] = [];

  receive(msg: { counts?: number[]; hottest?: boolean }) {
    if (msg.counts) msg.counts.forEach((c, e) => (this.totals[e] = (this.totals[e] ?? 0) + c));
    if (msg.hottest) return this.totals.indexOf(Math.max(...this.totals));
    return undefined;
  }
}
registerActor(LoadBook);
