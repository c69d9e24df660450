import assert from 'node:assert/strict';
import { createBackend, type Backend } from '../src/kernels/backend.js';
import * as ad from '../src/autograd/ops.js';
import { valueAndGrads } from '../src/autograd/grad.js';
import { regroupRows } from '../src/autograd/moe-ops.js';
import { makeExpert } from '../src/moe/experts.js';
import { ExpertRunner } from '../src/moe/expert-runner.js';
import { Parameter } from '../src/nn/parameter.js';
import { Rng } from '../src/nn/random.js';
import { DeviceChannels } from '../src/runtime/channels.js';
import { Collectives } from '../src/runtime/collectives.js';
import { RowPost } from '../src/runtime/row-post.js';
import type { F32 } from '../src/tensor/tensor.js';
import { gradcheck } from './support/gradcheck.js';
import { randn } from './support/numeric.js';

// Experts computing from row messages: the exchange on the caller's tape, the expert's forward and
// backward on a tape of its own, against finite differences in float64.
describe('experts computing from row messages (float64 finite differences)', () => {
  let be: Backend;
  before(async () => (be = await createBackend('reference')));
  // One device: every message is a direct call; the exchange still gathers, pads and splits.
  const post = () => new RowPost(new Collectives(new DeviceChannels(0), 0, 1), () => undefined);

  for (const kind of ['ffn', 'swiglu']) {
    it(`${kind}: rows split over two messages to one expert, padded: input and weight gradients`, async () => {
      const rng = new Rng(3);
      const expert = makeExpert(be, kind, { name: `e.${kind}`, dModel: 5, dFF: 6, rng, dtype: 'f64' });
      const runner = new ExpertRunner(be, expert);
      const x = new Parameter('x', randn(rng, [5, 5], 1, 'f64')), r = randn(rng, [5, 5], 1, 'f64');
      const p = post();
      let pass = 0;
      const loss = async () => {
        // Rows 0–2 and 3–4 as two messages: the expert runs once on all five, padded to 8.
        const [a, b] = await regroupRows([x.value], [0, 3].map((from, m) => ({ src: new Int32Array(m ? 2 : 3), row: Int32Array.from({ length: m ? 2 : 3 }, (_, i) => from + i) })), 5, x.value.dtype);
        const [ya, yb] = await p.exchange(pass++, [{ to: runner, x: a!, minRows: 8 }, { to: runner, x: b! }]);
        const [y] = (await regroupRows([ya!, yb!], [{ src: Int32Array.from([0, 0, 0, 1, 1]), row: Int32Array.from([0, 1, 2, 0, 1]) }], 5, x.value.dtype)) as [F32];
        return ad.matmul(be, await ad.reshape(y, [1, y.size]), r.reshape([r.size, 1]) as F32);
      };
      const params = [x, ...expert.parameters()];
      for (const q of params) q.zeroGrad();
      await valueAndGrads(be, [x], loss);
      for (const q of params) {
        assert.ok(q.grad.data.some((v) => v !== 0), `${q.name} got a gradient`);
        await gradcheck(q.name, q.value, q.grad.data, async () => (await loss()).data[0]!, { samples: 12 });
      }
    });
  }

  it('a backward for a pass with no recorded forward is an error naming the expert', async () => {
    const runner = new ExpertRunner(be, makeExpert(be, 'ffn', { name: 'block0.moe.expert2', dModel: 4, dFF: 4, rng: new Rng(1), dtype: 'f64' }));
    await assert.rejects(runner.rows('backward', randn(new Rng(2), [1, 4], 1, 'f64'), 7), /block0.moe.expert2 backward: pass 7 has no recorded forward here/);
  });
});
