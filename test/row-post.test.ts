import assert from 'node:assert/strict';
import type { ActorRef } from '../src/runtime/actor.js';
import type { ActorSystem } from '../src/runtime/system.js';
import { Recorder, RowDriver, RowScaler } from './fixtures/actors.js';
import { startSystem } from './support/system.js';

type Sent = { to: ActorRef; rows: number[][]; minRows?: number };
type Got = { replies: number[][]; own?: boolean; grads?: number[][] };

describe('row messages to actors over the all-to-all', function () {
  this.timeout(60_000);
  let system: ActorSystem;
  let drivers: ActorRef[];
  before(async () => {
    system = await startSystem({ devices: 2 });
    drivers = [await system.spawn(RowDriver, {}, { device: 0 }), await system.spawn(RowDriver, {}, { device: 1 })];
  });
  after(() => system?.stop());

  /** Both devices exchange at once (a collective), each sending its own messages. */
  const exchange = (send: Sent[][], opts: { grad?: boolean } = {}) => Promise.all(drivers.map((d, i) => system.ask<Got>(d, { send: send[i]!, cols: 2, ...opts })));
  const framesFrom = async (device: number) => (await system.stats())[device]!.channels.find((c) => c.peer !== device)!.sentFrames;

  it('one frame per device pair carries every message; each actor gets all its rows at once; a local one gets the sender\'s own tensor', async () => {
    const a = await system.spawn(RowScaler, { scale: 2 }, { device: 1 });
    const b = await system.spawn(RowScaler, { scale: 3 }, { device: 1 });
    const c = await system.spawn(RowScaler, { scale: 5 }, { device: 0 });
    const [f0, f1] = [await framesFrom(0), await framesFrom(1)];
    const [d0, d1] = await exchange([
      [{ to: a, rows: [[1, 2]] }, { to: b, rows: [[3, 4], [5, 6]] }, { to: c, rows: [[7, 8]] }],
      [{ to: a, rows: [[10, 20]] }],
    ]);
    assert.deepEqual(d0!.replies, [[2, 4], [9, 12, 15, 18], [35, 40]]);
    assert.deepEqual(d1!.replies, [[20, 40]]);
    assert.equal(d0!.own, true, 'the actor on the sender\'s device computed on the sender\'s own tensor');
    assert.equal(await framesFrom(0) - f0, 2, 'device 0 sent device 1 two frames: its three messages\' rows, and its (empty) replies');
    assert.equal(await framesFrom(1) - f1, 2);
    const seen = await system.ask<{ rows: number; first: number[] }[]>(a, {});
    assert.deepEqual(seen.map((s) => [s.rows, s.first]), [[2, [1, 2]]], 'actor a ran once, on both devices\' rows, device 0\'s first');
  });

  it('the backward goes the same way: each sender gets its rows\' gradients from the actors that ran them', async () => {
    const a = await system.spawn(RowScaler, { scale: 2 }, { device: 1 });
    const c = await system.spawn(RowScaler, { scale: 5 }, { device: 0 });
    const [d0, d1] = await exchange([[{ to: a, rows: [[1, 2], [3, 4]] }, { to: c, rows: [[1, 1]] }], [{ to: a, rows: [[5, 5]] }]], { grad: true });
    // The seeds are 1, 2, 3… over each reply; the scaler's backward multiplies them by its scale.
    assert.deepEqual(d0!.grads, [[2, 4, 6, 8], [5, 10]]);
    assert.deepEqual(d1!.grads, [[2, 4]]);
    const seen = await system.ask<{ kind: string; rows: number; first: number[] }[]>(a, {});
    assert.deepEqual(seen.map((s) => [s.kind, s.rows, s.first]), [['forward', 3, [1, 2]], ['backward', 3, [1, 2]]]);
  });

  it('a padded delivery runs the actor on zeros up to its minimum, and answers only the real rows', async () => {
    const c = await system.spawn(RowScaler, { scale: 5 }, { device: 0 });
    const [d0] = await exchange([[{ to: c, rows: [[1, 1]], minRows: 3 }], []]);
    assert.deepEqual(d0!.replies, [[5, 5]]);
    const seen = await system.ask<{ rows: number }[]>(c, {});
    assert.deepEqual(seen.map((s) => s.rows), [3]);
  });

  it('rows for an actor that takes none fail on every device, naming it, and the next exchange works', async () => {
    const notRows = await system.spawn(Recorder, {}, { device: 1 });
    const a = await system.spawn(RowScaler, { scale: 2 }, { device: 1 });
    const results = await Promise.allSettled(drivers.map((d, i) => system.ask<Got>(d, { send: i === 0 ? [{ to: notRows, rows: [[1, 2]] }] : [], cols: 2 })));
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.match(String((r as PromiseRejectedResult).reason), new RegExp(`actor ${notRows.id} .*not a row-taking actor`));
    }
    const [d0] = await exchange([[{ to: a, rows: [[1, 2]] }], []]);
    assert.deepEqual(d0!.replies, [[2, 4]]);
  });
});
