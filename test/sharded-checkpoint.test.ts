import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CharTransformerConfig } from '../src/models/char-transformer.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { trainDistributed } from '../src/train/distributed.js';
import { checkpointInfo, readManifest } from '../src/train/sharded-checkpoint.js';
import { until } from './support/system.js';
import { smallRun } from './support/small-model.js';

describe('sharded checkpoints written on the devices', function () {
  this.timeout(240_000);
  const { base } = smallRun(50_000);

  it('each device writes its shard, a manifest ties them, a new save replaces them; a changed or missing shard is named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmoe-shards-'));
    const file = join(dir, 'run.ckpt');
    await trainDistributed({ ...base, devices: 2, until: 2, checkpoint: file });
    const first = readManifest(file);
    assert.deepEqual(first.shards.map((s) => s.device), [0, 1]);
    assert.equal(first.meta.step, 2);
    const merged = loadCheckpoint(file);
    assert.equal(merged.tensors.size, first.shards.reduce((n, s) => n + s.tensors.length, 0), 'every tensor in exactly one shard');
    // Device 1 roots experts; the dense parts and gates are device 0's.
    assert.ok(first.shards[1]!.tensors.some((t) => t.includes('expert')) && first.shards[0]!.tensors.some((t) => t.includes('gate')));
    await trainDistributed({ ...base, devices: 2, until: 3, checkpoint: file });
    const second = readManifest(file);
    assert.deepEqual(readdirSync(dir).sort(), ['run.ckpt', ...second.shards.map((s) => s.file)].sort(), 'the previous save\'s shards are gone');
    // A shard with a flipped byte, or a shard from another save under its name, is refused naming it.
    const shard1 = join(dir, second.shards[1]!.file);
    const bytes = readFileSync(shard1);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 5]! ^= 0xff;
    writeFileSync(shard1, flipped);
    assert.throws(() => loadCheckpoint(file), new RegExp(`${second.shards[1]!.file} is corrupt: checksum mismatch`));
    await assert.rejects(trainDistributed({ ...base, devices: 2, resume: file }), /is corrupt: checksum mismatch/);
    unlinkSync(shard1);
    assert.throws(() => checkpointInfo(file), new RegExp(`run.ckpt lacks its shard ${second.shards[1]!.file}`));
  });

  it('killed with SIGKILL at random points while it saves every step, the previous checkpoint still loads; resumed on 1 device', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmoe-kill-'));
    const file = join(dir, 'run.ckpt');
    const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
    const args = ['--import', 'tsx', main, 'train', '--devices', '2', '--policy', 'static-unpadded', '--steps', '2000', '--d-model', '32', '--d-ff', '64', '--seq', '16', '--batch', '8', '--checkpoint', file, '--checkpoint-every', '1', '--sample', '0', '--json'];
    // Seeded delays: each kill lands somewhere in a save (shards written, manifest renamed, old shards removed).
    const delays = [0, 37, 111, 263];
    for (const delayMs of delays) {
      const child = spawn(process.execPath, args, { stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      const before = existsSync(file) ? readManifest(file).meta.step as number : -1;
      await until(() => existsSync(file) && (readManifest(file).meta.step as number) > before, 'a new checkpoint', 120_000);
      await new Promise((r) => setTimeout(r, delayMs)); // the fault's timing, not a wait for a condition
      child.kill('SIGKILL');
      await exited;
      const info = checkpointInfo(file);
      assert.ok((info.meta.step as number) > before, `after a kill ${delayMs} ms into saving: step ${info.meta.step}`);
      assert.ok(loadCheckpoint(file).tensors.size > 0);
    }
    const at = readManifest(file).meta.step as number;
    const saved = checkpointInfo(file).meta.config as CharTransformerConfig;
    const resumed = await trainDistributed({ config: saved, devices: 1, steps: at + 2, batch: 8, lr: 8e-3, resume: file });
    assert.deepEqual(resumed.map((s) => s.step), [at, at + 1]);
  });
});
