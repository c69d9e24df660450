import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

describe('examples run (at CI size)', function () {
  this.timeout(120_000);
  it('03-your-own-moe: a hand-built MoE model trains, and a custom actor migrates and answers', async () => {
    const file = new URL('../examples/03-your-own-moe.ts', import.meta.url).pathname;
    const { stdout } = await run('npx', ['tsx', file], { env: { ...process.env, FLEXMOE_QUICK: '1' } });
    const m = /loss ([\d.]+) → ([\d.]+), router aux loss ([\d.]+)/.exec(stdout);
    assert.ok(m, stdout);
    assert.ok(Number(m[2]) < Number(m[1]) - 0.5, `loss falls: ${m[1]} → ${m[2]}`);
    assert.match(stdout, /hottest expert so far: \d \(the book now lives on device 0\)/);
  });
});
