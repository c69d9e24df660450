import assert from 'node:assert/strict';
import type { ActorSystem } from '../src/runtime/system.js';
import type { RuntimeEvent } from '../src/runtime/events.js';
import { Manager, Recorder, WeightHolder } from './fixtures/actors.js';
import type { ActorRef } from '../src/runtime/actor.js';
import { startSystem } from './support/system.js';

describe('actors on devices', function () {
  this.timeout(30_000);
  let system: ActorSystem;
  const events: RuntimeEvent[] = [];
  before(async () => {
    system = await startSystem();
    system.events$.subscribe((e) => events.push(e));
  });
  after(() => system?.stop());

  it('delivers tells in order and answers asks', async () => {
    const r = await system.spawn(Recorder, { label: 'a' }, { device: 1 });
    for (let i = 0; i < 100; i++) system.tell(r, { n: i });
    const got = await system.ask<{ seen: number[]; device: number }>(r, { get: true });
    assert.deepEqual(got.seen, [...Array(100).keys()]);
    assert.equal(got.device, 1);
  });

  it('an ask times out with an error naming the actor and device', async () => {
    const r = await system.spawn(Recorder, {}, { device: 0 });
    await assert.rejects(system.ask(r, { slow: 500 }, { timeoutMs: 50 }), /ask to Recorder#a\d+@dev0 on device 0 timed out after 50 ms/);
  });

  it('a failing handler rejects the ask, naming the actor; the actor keeps working', async () => {
    const r = await system.spawn(Recorder, {}, { device: 1 });
    await assert.rejects(system.ask(r, { fail: 'bad input 42' }), /Recorder#a\d+@dev1 on device 1 failed: bad input 42/);
    assert.equal(await system.ask(r, { n: 1 }), 1);
  });

  it('unknown actors, classes and devices are clear errors', async () => {
    await assert.rejects(system.spawn('Nope', {}), /unknown actor class "Nope"; registered: .*Recorder/);
    assert.throws(() => system.tell('a999', {}), /unknown actor a999/);
    await assert.rejects(system.spawn(Recorder, {}, { device: 5 }), /device 5 does not exist \(devices 0..1\)/);
  });

  it('clone gives a replica with identical state (typed arrays included)', async () => {
    const w = await system.spawn(WeightHolder, { n: 1000, seed: 3 }, { device: 0 });
    await system.ask(w, { scale: 2 });
    const c = await system.clone(w, 1);
    assert.equal(c.device, 1);
    assert.equal(await system.ask(c, {}), await system.ask(w, {}));
    assert.deepEqual(system.replicasOf(w).map((r) => r.id).sort(), [w.id, c.id].sort());
    await system.ask(c, { scale: 3 }); // replicas are independent afterwards
    assert.notEqual(await system.ask(c, {}), await system.ask(w, {}));
  });

  it('migration under continuous traffic delivers every message exactly once, in order', async () => {
    const r = await system.spawn(Recorder, {}, { device: 0 });
    let n = 0;
    const pump = setInterval(() => {
      for (let i = 0; i < 20; i++) system.tell(r, { n: n++ });
    }, 1);
    for (let hop = 0; hop < 6; hop++) {
      const moved = await system.migrate(r, (hop + 1) % 2);
      assert.equal(moved.device, (hop + 1) % 2);
      assert.equal(moved.incarnation, hop + 2);
    }
    clearInterval(pump);
    const got = await system.ask<{ seen: number[]; device: number }>(r, { get: true });
    assert.deepEqual(got.seen, [...Array(n).keys()], `all ${n} messages once, in order`);
    assert.equal(got.device, system.resolve(r).device);
    assert.ok(events.some((e) => e.type === 'actor-migrated' && e.ref.id === r.id && e.stashed > 0), 'some messages were stashed during a move');
  });

  it('an actor spawns, clones, migrates and stops others through its context', async () => {
    const m = await system.spawn(Manager, {}, { device: 1 });
    const w = await system.ask<ActorRef>(m, { spawn: 5, device: 0 });
    assert.equal(w.device, 0);
    await system.ask(w, { scale: 3 });
    const c = await system.ask<ActorRef>(m, { clone: w, device: 1 });
    assert.equal(await system.ask(c, {}), await system.ask(w, {}));
    const moved = await system.ask<ActorRef>(m, { migrate: c, device: 0 });
    assert.deepEqual([moved.device, moved.incarnation], [0, 2]);
    await system.ask(m, { stop: w });
    await assert.rejects(system.ask(w, {}), /unknown actor/);
    await assert.rejects(system.ask(m, { clone: w, device: 1 }), /unknown actor/);
  });

  it('stop(ref) removes the actor; later sends are errors', async () => {
    const r = await system.spawn(Recorder, {}, { device: 1 });
    await system.stop(r);
    assert.throws(() => system.tell(r, { n: 1 }), /unknown actor/);
    assert.ok(events.some((e) => e.type === 'actor-stopped' && e.ref.id === r.id));
  });

  it('reports runtime events and device busy time', async () => {
    assert.ok(events.some((e) => e.type === 'actor-spawned'));
    const before = events.length;
    await system.markStep(1);
    const busy = events.slice(before).filter((e) => e.type === 'device-busy');
    assert.equal(busy.length, 2);
    const stats = await system.stats();
    assert.equal(stats.length, 2);
    assert.deepEqual(stats[0]!.channels.map((c) => c.peer), [1]);
  });
});

describe('modules devices load', function () {
  this.timeout(30_000);
  it('a module that fails to import stops the start at once, naming the device, the module and the error', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { ActorSystem } = await import('../src/runtime/system.js');
    const dir = mkdtempSync(join(tmpdir(), 'flexmoe-module-'));
    writeFileSync(join(dir, 'broken.ts'), "throw new Error('broken on purpose');\n");
    const t0 = performance.now();
    await assert.rejects(ActorSystem.start({ devices: 2, modules: [join(dir, 'broken.ts')] }), /device \d could not start: module .*broken\.ts failed to import: broken on purpose/);
    assert.ok(performance.now() - t0 < 5_000, 'not a start timeout');
    await assert.rejects(ActorSystem.start({ devices: 1, modules: [join(dir, 'missing.ts')] }), /module .*missing\.ts failed to import: no such file/);
  });
});
