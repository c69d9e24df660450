import assert from 'node:assert/strict';
import type { ActorSystem } from '../src/runtime/system.js';
import { Recorder, WeightHolder } from './fixtures/actors.js';
import { nextEvent, startSystem } from './support/system.js';

describe('supervision: devices that crash', function () {
  this.timeout(60_000);
  let system: ActorSystem | undefined;
  afterEach(() => system?.stop());

  it('a crash mid-ask fails the ask naming the device, then the device is rebuilt with state restored', async () => {
    system = await startSystem();
    const r = await system.spawn(Recorder, { label: 'keep' }, { device: 1 });
    for (let i = 0; i < 5; i++) system.tell(r, { n: i });
    await system.snapshot(r); // the last snapshot holds [0..4]
    const inFlight = system.ask(r, { slow: 2000 });
    const restored = nextEvent(system, (e) => e.type === 'actor-restored' && e.ref.id === r.id);
    system.crashDevice(1, 'exit');
    await assert.rejects(inFlight, /device 1 crashed: thread exited with code 3/);
    const ev = await restored;
    assert.equal(ev.type === 'actor-restored' && ev.source, 'snapshot');
    const got = await system.ask<{ seen: number[]; label: string }>(r, { get: true });
    assert.deepEqual(got.seen, [0, 1, 2, 3, 4]);
    assert.equal(system.resolve(r).incarnation, 2);
  });

  it('an actor with a live replica is restored from the replica; messages sent while down are delivered', async () => {
    system = await startSystem();
    const w = await system.spawn(WeightHolder, { n: 64, seed: 1 }, { device: 0 });
    await system.ask(w, { scale: 5 });
    const replica = await system.clone(w, 1);
    const expected = await system.ask(replica, {});
    const restored = nextEvent(system, (e) => e.type === 'actor-restored' && e.ref.id === w.id);
    system.crashDevice(0, 'throw');
    await nextEvent(system, (e) => e.type === 'device-down' && e.device === 0);
    const answer = system.ask(w, {}); // stashed until the actor is back
    const ev = await restored;
    assert.equal(ev.type === 'actor-restored' && ev.source, 'replica');
    assert.equal(await answer, expected);
  });

  it('running out of memory under resourceLimits is detected like any crash', async () => {
    system = await startSystem({ resourceLimits: { maxOldGenerationSizeMb: 48 } });
    const r = await system.spawn(Recorder, {}, { device: 0 });
    const down = nextEvent(system, (e) => e.type === 'device-down' && e.device === 0, 30_000);
    system.crashDevice(0, 'oom');
    const ev = await down;
    assert.match(ev.type === 'device-down' ? ev.reason : '', /ERR_WORKER_OUT_OF_MEMORY|memory/);
    await nextEvent(system, (e) => e.type === 'actor-restored' && e.ref.id === r.id, 30_000);
    assert.equal(await system.ask(r, { n: 1 }), 1, 'restored from its spawn arguments');
  });

  it('a crash loop backs off and ends in a clear error, never a hang', async () => {
    system = await startSystem({ maxRestarts: 2, restartBackoffMs: 10 });
    const r = await system.spawn(Recorder, {}, { device: 1 });
    const failed = nextEvent(system, (e) => e.type === 'device-failed' && e.device === 1);
    const crashAgain = system.events$.subscribe((e) => {
      if (e.type === 'device-up' && e.device === 1) system!.crashDevice(1, 'exit');
    });
    system.crashDevice(1, 'exit');
    await failed;
    crashAgain.unsubscribe();
    await assert.rejects(system.ask(r, { n: 1 }), /device 1 failed permanently after 2 restarts in a row/);
  });
});
