import assert from 'node:assert/strict';
import type { ActorSystem } from '../src/runtime/system.js';
import { Emitter, Recorder, Relay, Stasher } from './fixtures/actors.js';
import { nextEvent, startSystem } from './support/system.js';

describe('actor messages between devices', function () {
  this.timeout(60_000);
  let system: ActorSystem;
  before(async () => {
    system = await startSystem({ devices: 3 });
  });
  after(() => system?.stop());

  it('a tell from device 0 to an actor on device 1 goes over the ring, never through the main thread', async () => {
    const relay = await system.spawn(Relay, {}, { device: 0 });
    const target = await system.spawn(Recorder, {}, { device: 1 });
    const [before] = await system.stats();
    const control = system.controlReceived;
    assert.equal(await system.ask(relay, { tell: target, count: 500 }), 500);
    const got = await system.ask<{ seen: number[] }>(relay, { ask: target, payload: { get: true } });
    assert.deepEqual(got.seen, [...Array(500).keys()], 'every tell once, in order');
    assert.equal(system.controlReceived, control, 'the main thread received no control message for them');
    const [after] = await system.stats();
    assert.equal(after!.mail.sent - before!.mail.sent, 501, '500 tells and one ask left device 0 over its rings');
    assert.equal(after!.mail.received - before!.mail.received, 1, 'and one reply came back');
  });

  it('events emitted in one turn reach events$ in order, in one message, before the reply that followed them', async () => {
    const emitter = await system.spawn(Emitter, {}, { device: 1 });
    const seen: string[] = [];
    const sub = system.events$.subscribe((e) => {
      if (e.type === 'actor-event' && e.ref.id === emitter.id) seen.push(`event ${(e.data as { i: number }).i}`);
    });
    const control = system.controlReceived;
    const replied = system.ask(emitter, { counts: [1, 2], times: 5 }).then(() => seen.push('reply'));
    await replied;
    sub.unsubscribe();
    assert.deepEqual(seen, ['event 0', 'event 1', 'event 2', 'event 3', 'event 4', 'reply']);
    assert.equal(system.controlReceived - control, 1, 'the five events came to the main thread in one message');
  });

  it('an ask to an actor on the same device is handed over without a copy', async () => {
    const relay = await system.spawn(Relay, {}, { device: 2 });
    const here = await system.spawn(Recorder, {}, { device: 2 });
    const there = await system.spawn(Recorder, {}, { device: 0 });
    assert.equal(await system.ask(relay, { mutate: here }), 42, 'the target wrote into the sender\'s own array');
    assert.equal(await system.ask(relay, { mutate: there }), 0, 'across devices the message is a copy');
  });

  it('migration under continuous traffic from another device: every message once, in order', async () => {
    const relay = await system.spawn(Relay, {}, { device: 0 });
    const target = await system.spawn(Recorder, {}, { device: 1 });
    await system.ask(relay, { pump: target });
    for (let hop = 0; hop < 6; hop++) await system.migrate(target, [2, 0, 1][hop % 3]!);
    const sent = await system.ask<number>(relay, { stop: true });
    const got = await system.ask<{ seen: number[] }>(relay, { ask: target, payload: { get: true } });
    assert.ok(sent > 0);
    assert.deepEqual(got.seen, [...Array(sent).keys()], `all ${sent} messages once, in order, across 6 moves (one onto the sender's device)`);
    // Every device holds the directory at the version the main thread last published.
    const before = system.directoryVersion;
    await system.migrate(target, 2);
    assert.ok(system.directoryVersion > before, 'a move publishes new versions');
    assert.deepEqual((await system.stats()).map((s) => s.directoryVersion), [0, 1, 2].map(() => system.directoryVersion));
  });

  it('failures are named: a handler that throws, an unknown actor, a device that dies mid-ask', async () => {
    const relay = await system.spawn(Relay, {}, { device: 0 });
    const target = await system.spawn(Recorder, {}, { device: 1 });
    await assert.rejects(system.ask(relay, { ask: target, payload: { fail: 'bad 7' } }), /Recorder#a\d+@dev1 on device 1 failed: bad 7/);
    await assert.rejects(system.ask(relay, { ask: { id: 'a9999', device: 1, incarnation: 1 }, payload: {} }), /unknown actor/);
    const pending = system.ask(relay, { ask: target, payload: { slow: 5_000 } });
    const down = nextEvent(system, (e) => e.type === 'device-down' && e.device === 1);
    system.crashDevice(1, 'exit');
    await down;
    await assert.rejects(pending, /device 1 crashed/);
    await nextEvent(system, (e) => e.type === 'actor-restored' && e.ref.id === target.id, 30_000);
    assert.equal(await system.ask(relay, { ask: target, payload: { n: 1 } }), 1, 'the restored actor answers again');
  });

  it('a stashed buffer outlives its device thread: the restored actor, and any other, reads it back', async () => {
    const a = await system.spawn(Stasher, {}, { device: 2 });
    const b = await system.spawn(Stasher, {}, { device: 0 });
    assert.equal(await system.ask(a, { read: true }), null, 'nothing stashed yet');
    await system.ask(a, { stash: [1.5, 2.5, 3.5] });
    const restored = nextEvent(system, (e) => e.type === 'actor-restored' && e.ref.id === a.id, 30_000);
    system.crashDevice(2, 'exit');
    await restored;
    const want = { values: [1.5, 2.5, 3.5], meta: { n: 3 } };
    assert.deepEqual(await system.ask(a, { read: true }), want, 'its own, after its thread died');
    assert.deepEqual(await system.ask(b, { read: a.id }), want, 'another actor, by id');
    await system.stop(a);
    assert.equal(system.stashed(a.id, 'k'), undefined, 'stopping the actor drops what it stashed');
  });
});
