import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runTrajectories, type Trajectories } from './support/trajectories.js';

// The built-in models' losses over 20 steps, against the fixture recorded from the hand-written
// backward passes (scripts/record-trajectories.ts): the autograd tape must change no number.
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
