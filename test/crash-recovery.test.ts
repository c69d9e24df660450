import assert from 'node:assert/strict';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuntimeEvent } from '../src/runtime/events.js';
import { trainDistributed } from '../src/train/distributed.js';
import type { RecoveryReport } from '../src/train/recovery.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { smallRun } from './support/small-model.js';

describe('training survives a crashed device', function () {
  this.timeout(240_000);
  const base = { ...smallRun(50_000).base, devices: 2, snapshotEvery: 3 };
  let reference: number[];
  before(async () => {
    reference = (await trainDistributed(base)).map((s) => s.loss);
  });
  const same = (losses: number[], what: string) => {
    assert.equal(losses.length, reference.length, `${what}: every step ran`);
    losses.forEach((l, i) => assert.ok(Math.abs(l - reference[i]!) <= 1e-6 * Math.abs(reference[i]!), `${what}, step ${i}: ${l} vs ${reference[i]}`));
  };

  it('an expert with no replica: the thread exits mid-step, every device rolls back to the in-memory snapshot, and the losses are the uncrashed run\'s', async () => {
    const recoveries: RecoveryReport[] = [];
    const events: RuntimeEvent[] = [];
    const h = await trainDistributed({ ...base, faults: [{ step: 5, device: 1, how: 'exit' }], onRecovery: (r) => recoveries.push(r), onRuntimeEvent: (e) => events.push(e) });
    same(h.map((s) => s.loss), 'rolled back');
    assert.equal(recoveries.length, 1);
    const [r] = recoveries;
    assert.equal(r!.action, 'rollback');
    assert.deepEqual([r!.step, r!.resumedAt, r!.rerun], [5, 3, [3, 4, 5]], 'back to the snapshot before step 3: steps 3–5 run again');
    assert.deepEqual(r!.crashed.map((c) => c.device), [1]);
    assert.ok(r!.restored.some((x) => x.source === 'initial'), 'an expert held by device 1 alone came back from its arguments, then from the snapshot');
    assert.ok(r!.restored.some((x) => x.source === 'replica'), 'the trainer and gates came back from a data-parallel peer');
    assert.ok(events.some((e) => e.type === 'device-down' && e.device === 1) && events.some((e) => e.type === 'device-up' && e.device === 1 && e.incarnation === 2));
  });

  it('every expert with a replica: an uncaught error mid-step, the step runs again from the replicas, no rollback', async () => {
    const replicas = [[0, 1], [0, 1], [0, 1], [0, 1]];
    const ref = (await trainDistributed({ ...base, replicas })).map((s) => s.loss);
    const recoveries: RecoveryReport[] = [];
    const h = await trainDistributed({ ...base, replicas, faults: [{ step: 4, device: 0, how: 'throw' }], onRecovery: (r) => recoveries.push(r) });
    assert.equal(recoveries.length, 1);
    assert.ok(recoveries[0]!.action === 'rerun' || recoveries[0]!.action === 'kept', recoveries[0]!.action);
    assert.ok(recoveries[0]!.restored.every((x) => x.source === 'replica'), JSON.stringify(recoveries[0]!.restored));
    assert.deepEqual(recoveries[0]!.rerun, recoveries[0]!.action === 'rerun' ? [4] : []);
    const losses = h.map((s) => s.loss);
    assert.equal(losses.length, ref.length);
    losses.forEach((l, i) => assert.ok(Math.abs(l - ref[i]!) <= 1e-6 * Math.abs(ref[i]!), `step ${i}: ${l} vs ${ref[i]}`));
  });

  it('a crash it cannot recover from stops with a clear error and saves the last good state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmoe-crash-'));
    const checkpoint = join(dir, 'last-good.ckpt');
    // Without snapshots nothing can rebuild an expert held by the lost device alone.
    await assert.rejects(trainDistributed({ ...base, snapshotEvery: 0, faults: [{ step: 2, device: 1 }] }), /device 1 crashed: during step 2, and a part it held alone cannot be rebuilt without an in-memory snapshot/);
    // The same crash, three times over at one step: the run stops, and the snapshot before it is saved.
    const faults = [0, 1, 2, 3].map(() => ({ step: 4, device: 1 }));
    await assert.rejects(trainDistributed({ ...base, checkpoint, faults }), /step 4 failed 4 times.*the last good state, before step 3, is saved/);
    assert.ok(existsSync(checkpoint));
    assert.equal(loadCheckpoint(checkpoint).meta.step, 3);
  });
});
