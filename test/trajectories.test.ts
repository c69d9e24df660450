import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runTrajectories, type Trajectories } from './support/trajectories.js';

// The built-in models' losses over 20 steps, against the fixture (scripts/record-trajectories.ts),
// first recorded from the hand-written backward passes, which the autograd tape reproduced within
// 1e-6. It was recorded again when the wasm-simd kernels moved from float64 loops to float32 SIMD
// sums (the two recordings differ by at most 1.5e-6 relative); it now guards against any change.
describe('built-in models reproduce their recorded 20-step loss trajectories', function () {
  this.timeout(120_000);
  it('dense and GPT-MoE in one process, GPT-MoE, BERT-MoE and the vision MoE on devices: within 1e-6 relative', async () => {
    const want = JSON.parse(readFileSync(new URL('./fixtures/trajectories.json', import.meta.url), 'utf8')) as Trajectories;
    const got = await runTrajectories();
    assert.deepEqual(Object.keys(got), Object.keys(want));
    for (const [name, losses] of Object.entries(want)) {
      assert.equal(got[name]!.length, 20, name);
      losses.forEach((l, i) => assert.ok(Math.abs(got[name]![i]! - l) <= 1e-6 * Math.abs(l), `${name}, step ${i}: ${got[name]![i]} vs recorded ${l}`));
    }
  });
});
