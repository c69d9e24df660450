import assert from 'node:assert/strict';
import { describeEachBackend, testedBackends } from './support/backends.js';
import { expectClose, randInts, randn } from './support/numeric.js';
import { Rng } from '../src/nn/random.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';
import type { Backend } from '../src/kernels/backend.js';
import type { AttentionShape } from '../src/kernels/types.js';

type Case = { name: string; run: (be: Backend) => Promise<unknown> };

/** Compares every output (tensor, number, or object of tensors) of one kernel call. */
function compare(actual: unknown, expected: unknown, what: string, tol = 1e-4): void {
  if (expected === undefined) return;
  if (typeof expected === 'number' || expected instanceof Tensor) {
    if (expected instanceof Tensor && expected.dtype === 'i32') return assert.deepEqual(Array.from((actual as Tensor).data), Array.from(expected.data), what);
    return expectClose(actual as Tensor, expected, tol, what);
  }
  for (const [k, v] of Object.entries(expected as object)) compare((actual as Record<string, unknown>)[k], v, `${what}.${k}`, tol);
}

// The WebAssembly SIMD matmul is held to 1e-5; every other kernel to 1e-4.
const tolerance = (backend: string, name: string) => (backend === 'wasm-simd' && name.startsWith('matmul') ? 1e-5 : 1e-4);

// Row counts chosen around the bucket edges (4, 12, 16, 24) plus the empty and single-row cases.
const rowCounts = [0, 1, 5, 16, 23, 64];

function cases(): Case[] {
  const rng = new Rng(7);
  const out: Case[] = [];
  for (const T of rowCounts) {
    const x = randn(rng, [T, 24]), dy = randn(rng, [T, 24]), w = randn(rng, [24, 40], 0.2), dh = randn(rng, [T, 40]);
    const b = randn(rng, [24]), g = randn(rng, [24], 0.5);
    const odd = new Rng(100 + T), x7 = randn(odd, [T, 7]), b7 = randn(odd, [7]);
    out.push(
      { name: `matmul nn T=${T}`, run: (be) => be.ops.matmul(x, w, 'nn') },
      { name: `matmul nt T=${T}`, run: (be) => be.ops.matmul(dh, w, 'nt') },
      { name: `matmul tn T=${T}`, run: (be) => be.ops.matmul(x, dh, 'tn') },
      // A weight gradient summed into the parameter's, in each form.
      ...(['nn', 'nt', 'tn'] as const).map((form) => ({
        name: `matmulAccumulate ${form} T=${T}`,
        run: async (be: Backend) => {
          const [a, b, shape] = form === 'nn' ? [x, w, [T, 40]] : form === 'nt' ? [dh, w, [T, 24]] : [x, dh, [24, 40]];
          const into = randn(new Rng(9), shape);
          await be.ops.matmulAccumulate(into, a, b, form);
          return into;
        },
      })),
      { name: `biasAdd T=${T}`, run: (be) => be.ops.biasAdd(x, b) },
      // A width that is no whole number of SIMD vectors takes the loop.
      { name: `biasAdd T=${T}, width 7`, run: (be) => be.ops.biasAdd(x7, b7) },
      { name: `colSum T=${T}`, run: (be) => be.ops.colSum(dy) },
      { name: `add/scale T=${T}`, run: async (be) => be.ops.scale(await be.ops.add(x, dy), -0.5) },
      { name: `relu fwd/bwd T=${T}`, run: async (be) => ({ y: await be.ops.relu(x), dx: await be.ops.reluBackward(x, dy) }) },
      { name: `gelu fwd/bwd T=${T}`, run: async (be) => ({ y: await be.ops.gelu(x), dx: await be.ops.geluBackward(x, dy) }) },
      { name: `mul/silu fwd/bwd/sigmoid T=${T}`, run: async (be) => ({ m: await be.ops.mul(x, dy), y: await be.ops.silu(x), dx: await be.ops.siluBackward(x, dy), s: await be.ops.sigmoid(x) }) },
      {
        name: `rmsNorm fwd/bwd T=${T}`,
        run: async (be) => {
          const f = await be.ops.rmsNorm(x, g, 1e-5);
          return { ...f, ...(await be.ops.rmsNormBackward(x, g, f.rstd, dy)) };
        },
      },
      { name: `softmax fwd/bwd T=${T}`, run: async (be) => { const y = await be.ops.softmax(x); return { y, dx: await be.ops.softmaxBackward(y, dy) }; } },
      {
        name: `layerNorm fwd/bwd T=${T}`,
        run: async (be) => {
          const f = await be.ops.layerNorm(x, g, b, 1e-5);
          return { ...f, ...(await be.ops.layerNormBackward(x, g, f.mean, f.rstd, dy)) };
        },
      },
      {
        name: `embedding fwd/bwd T=${T}`,
        run: async (be) => { const ids = randInts(new Rng(T), [T], 11); const table = randn(new Rng(3), [11, 24]); return { y: await be.ops.embedding(table, ids), dt: await be.ops.embeddingBackward(ids, dy, 11) }; },
      },
      {
        name: `crossEntropy fwd/bwd T=${T}`,
        run: async (be) => {
          const t = randInts(new Rng(T + 1), [T], 24);
          if (T > 0) t.data[0] = -1; // an ignored position
          const f = await be.ops.crossEntropy(x, t);
          return { ...f, dx: await be.ops.crossEntropyBackward(f.probs, t, 1 / Math.max(1, T)) };
        },
      },
      {
        name: `topk fwd/bwd T=${T}`,
        run: async (be) => {
          const logits = randn(new Rng(T + 2), [T, 8]);
          if (T > 1) logits.data[9] = logits.data[8]!; // a tie inside row 1
          const f = await be.ops.topk(logits, 2);
          return { ...f, dx: await be.ops.topkBackward(f.indices, randn(new Rng(5), [T, 2]), 8) };
        },
      },
    );
  }
  const w = randn(rng, [40, 256], 0.1);
  out.push({ name: 'sumSquares', run: (be) => be.ops.sumSquares(w) });
  out.push({ name: 'sumSquares empty', run: (be) => be.ops.sumSquares(Tensor.zeros([0, 3])) });
  // The gradient sum in place, on widths on and off whole vectors.
  for (const shape of [[3, 37], [64, 40]]) {
    out.push({
      name: `accumulate [${shape}]`,
      run: async (be) => {
        const into = randn(new Rng(4), shape);
        await be.ops.accumulate(into, randn(new Rng(5), shape));
        return into;
      },
    });
  }
  out.push({
    name: 'adamw',
    run: async (be) => {
      const p = randn(new Rng(1), [3, 37]), m = randn(new Rng(2), [3, 37], 0.1), v = Tensor.zeros([3, 37]);
      for (let i = 0; i < v.size; i++) v.data[i] = Math.abs(m.data[i]!);
      await be.ops.adamw(p, randn(new Rng(3), [3, 37]), m, v, { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, step: 3, gradScale: 0.5 });
      return { p, m, v };
    },
  });
  // Head sizes of whole and partial 8-column tiles, sequences of whole and partial 4-row tiles.
  const attention: [AttentionShape, number][] = [
    [{ batch: 2, seq: 5, heads: 2, causal: true, scale: 0.5 }, 4],
    [{ batch: 1, seq: 8, heads: 3, causal: false, scale: 1 }, 4],
    [{ batch: 2, seq: 13, heads: 2, causal: true, scale: 0.25 }, 16],
    [{ batch: 1, seq: 32, heads: 4, causal: true, scale: 0.25 }, 16],
    [{ batch: 3, seq: 9, heads: 1, causal: false, scale: 0.4 }, 6],
  ];
  for (const [s, D] of attention) {
    const W = s.heads * D, q = randn(rng, [s.batch * s.seq, W]), k = randn(rng, [s.batch * s.seq, W]), v = randn(rng, [s.batch * s.seq, W]);
    // Weights with values above the diagonal: under a causal mask both products must ignore them.
    const dense = randn(rng, [s.batch * s.heads * s.seq, s.seq]);
    out.push({
      name: `attention B=${s.batch} S=${s.seq} H=${s.heads} D=${D} causal=${s.causal}`,
      run: async (be) => {
        const scores = await be.ops.attentionScores(q, k, s);
        const p = await be.ops.softmax(scores);
        return {
          scores, apply: await be.ops.attentionApply(p, v, s), applyT: await be.ops.attentionApplyT(p, v, s),
          applyDense: await be.ops.attentionApply(dense, v, s), applyTDense: await be.ops.attentionApplyT(dense, v, s),
        };
      },
    });
  }
  return out;
}

describeEachBackend(await testedBackends(), 'kernels match the float64 reference', (get) => {
  for (const c of cases()) {
    it(c.name, async () => {
      const { be, ref } = get();
      compare(await c.run(be), await c.run(ref), c.name, tolerance(be.name, c.name));
    });
  }

  it('matmul at expert shapes (256,128,512), all three forms', async () => {
    const { be, ref } = get();
    const rng = new Rng(11);
    const x = randn(rng, [256, 128]), w = randn(rng, [128, 512], 0.05), dy = randn(rng, [256, 512]);
    for (const [a, b, form] of [[x, w, 'nn'], [dy, w, 'nt'], [x, dy, 'tn']] as const) {
      expectClose(await be.ops.matmul(a, b, form), await ref.ops.matmul(a, b, form), tolerance(be.name, 'matmul'), form);
    }
  });

  it('matmul in both loop orders: each operand streamed, transposed or strided, with partial tiles', async () => {
    const { be, ref } = get();
    const rng = new Rng(12);
    // The wasm-simd kernel walks B's panels outside when A has no more values than B, else A's rows:
    // these shapes take each order in each form, with rows past the last whole 4 and columns past the last whole 8.
    const shapes: [number, number, number][] = [[13, 37, 40], [45, 37, 9], [4, 64, 129], [130, 33, 12], [130, 33, 16]];
    for (const [M, K, N] of shapes) {
      const a = randn(rng, [M, K]), at = randn(rng, [K, M]), b = randn(rng, [K, N], 0.2), bt = randn(rng, [N, K], 0.2);
      for (const [x, y, form] of [[a, b, 'nn'], [a, bt, 'nt'], [at, b, 'tn']] as const) {
        expectClose(await be.ops.matmul(x, y, form), await ref.ops.matmul(x, y, form), tolerance(be.name, 'matmul'), `${form} M=${M} K=${K} N=${N}`);
        // Added into a gradient where it lives (resident, on wasm-simd: the kernel adds in place when N is whole panels).
        const start = randn(new Rng(M + N), [M, N]), into = be.resident(start.clone() as F32), want = start.clone() as F32;
        await be.ops.matmulAccumulate(into, x, y, form);
        await ref.ops.matmulAccumulate(want, x, y, form);
        expectClose(into, want, tolerance(be.name, 'matmul'), `accumulate ${form} M=${M} K=${K} N=${N}`);
      }
    }
  });

  it('propagates NaN and Inf instead of replacing them', async () => {
    const { be } = get();
    const x = Tensor.from([NaN, 1, -2, Infinity, 0.5, -Infinity, 3, 4], [2, 4]);
    const relu = await be.ops.relu(x);
    assert.ok(Number.isNaN(relu.data[0]!), 'relu(NaN) is NaN');
    assert.equal(relu.data[3], Infinity);
    const sm = await be.ops.softmax(x);
    assert.ok(Number.isNaN(sm.data[1]!), 'a NaN poisons its softmax row');
    const w = Tensor.from([1, 0, 0, 1, 1, 0, 0, 1], [4, 2]);
    const mm = await be.ops.matmul(x, w, 'nn');
    assert.ok(Number.isNaN(mm.data[0]!), 'NaN in row 0 reaches row 0 of the product');
    assert.ok(Number.isNaN(mm.data[2]!) || !Number.isFinite(mm.data[2]!), 'Inf·0 in row 1 is not silently finite');
  });

  it('rejects bad input with errors that name the shapes', async () => {
    const { be } = get();
    const a = Tensor.zeros([3, 4]), b = Tensor.zeros([5, 6]);
    await assert.rejects(be.ops.matmul(a, b, 'nn'), /matmul\(nn\): shape mismatch, inner dimensions: \[3,4\] vs \[5,6\]/);
    await assert.rejects(be.ops.add(a, b), /add: shape mismatch, operands: \[3,4\] vs \[5,6\]/);
    await assert.rejects(be.ops.biasAdd(a, Tensor.zeros([5])), /biasAdd: shape mismatch/);
    await assert.rejects(be.ops.embedding(Tensor.zeros([4, 2]), Tensor.ints([1, 4])), /embedding: index 4 at position 1 is outside \[0, 4\)/);
    await assert.rejects(be.ops.embedding(Tensor.zeros([4, 2]), Tensor.zeros([2]) as never), /embedding: wrong dtype f32/);
    await assert.rejects(be.ops.crossEntropy(a, Tensor.ints([0, 1])), /crossEntropy: shape mismatch, targets vs logits rows/);
    await assert.rejects(be.ops.topk(a, 5), /topk: k=5 must be an integer in \[1, 4\]/);
  });

  it('handles an empty batch (T = 0) everywhere', async () => {
    const { be } = get();
    const x = Tensor.zeros([0, 8]) as F32;
    assert.deepEqual((await be.ops.matmul(x, Tensor.zeros([8, 3]), 'nn')).shape, [0, 3]);
    assert.deepEqual((await be.ops.matmul(x, Tensor.zeros([0, 3]), 'tn')).toArray(), new Array(24).fill(0));
    assert.deepEqual((await be.ops.gelu(x)).shape, [0, 8]);
    assert.deepEqual((await be.ops.topk(x, 2)).indices.shape, [0, 2]);
  });
});

describe('resident tensors (Backend.resident)', () => {
  it('wasm-simd reads resident operands in place with the same results, and AdamW and the gradient sum update them where they live', async () => {
    const { createBackend } = await import('../src/kernels/backend.js');
    const be = await createBackend('wasm-simd');
    try {
      const rng = new Rng(21);
      // Widths on and off whole vectors, a single row, and a weight whose columns need padding.
      for (const [T, d, f] of [[1, 24, 40], [7, 16, 37], [33, 64, 128]] as const) {
        const x = randn(rng, [T, d]), w = randn(rng, [d, f], 0.2), dh = randn(rng, [T, f]), g = randn(rng, [d]), b = randn(rng, [d]);
        const rw = be.resident(w), rg = be.resident(g), rb = be.resident(b);
        assert.notEqual(rw.data.buffer, w.data.buffer);
        assert.deepEqual(Array.from(rw.data), Array.from(w.data));
        assert.equal(be.resident(rw), rw, 'already resident: the same tensor');
        const same = async (what: string, f1: () => Promise<unknown>, f2: () => Promise<unknown>) => compare(await f1(), await f2(), what, 0);
        await same(`matmul nn ${T}`, () => be.ops.matmul(x, rw, 'nn'), () => be.ops.matmul(x, w, 'nn'));
        await same(`matmul nt ${T}`, () => be.ops.matmul(dh, rw, 'nt'), () => be.ops.matmul(dh, w, 'nt'));
        await same(`layerNorm ${T}`, () => be.ops.layerNorm(x, rg, rb, 1e-5), () => be.ops.layerNorm(x, g, b, 1e-5));
        const p = randn(rng, [d, f]), grad = randn(rng, [d, f]), m = randn(rng, [d, f], 0.1), v = Tensor.zeros([d, f]) as F32;
        const rp = be.resident(p), rm = be.resident(m), rv = be.resident(v);
        const hyper = { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, step: 2, gradScale: 1 };
        await be.ops.adamw(rp, grad, rm, rv, hyper);
        await be.ops.adamw(p, grad, m, v, hyper);
        compare({ p: rp, m: rm, v: rv }, { p, m, v }, `adamw ${T}`, 0);
        const into = randn(rng, [d, f]), rinto = be.resident(into.clone() as F32);
        await be.ops.accumulate(rinto, grad);
        await be.ops.accumulate(into, grad);
        compare(rinto, into, `accumulate ${T}`, 0);
        // A weight gradient added by the product's own kernel where the gradient lives (whole 8-column
        // panels), else computed and added: the same values as the product added after.
        const dw = randn(rng, [d, f]), rdw = be.resident(dw.clone() as F32), sum = dw.clone() as F32;
        await be.ops.accumulate(sum, await be.ops.matmul(x, dh, 'tn'));
        await be.ops.matmulAccumulate(rdw, x, dh, 'tn');
        await be.ops.matmulAccumulate(dw, x, dh, 'tn');
        compare(rdw, sum, `matmulAccumulate resident ${T}`, 1e-5);
        compare(dw, sum, `matmulAccumulate ${T}`, 1e-5);
        await assert.rejects(be.ops.matmulAccumulate(rdw, dh, x, 'tn'), /matmulAccumulate: shape mismatch/);
      }
    } finally {
      be.dispose();
    }
  });

  it('a resident parameter sums its gradients in place and clears them there', async () => {
    const { createBackend } = await import('../src/kernels/backend.js');
    const { residentParameter } = await import('../src/nn/parameter.js');
    const be = await createBackend('wasm-simd');
    try {
      const rng = new Rng(22);
      const p = residentParameter(be, 'w', randn(rng, [5, 37]));
      const grad = p.grad;
      assert.equal(be.resident(grad), grad, 'the gradient is resident from the start');
      const g1 = randn(rng, [5, 37]), g2 = randn(rng, [5, 37]);
      await p.accumulateOn(be, g1);
      await p.accumulateOn(be, g2);
      assert.equal(p.grad, grad, 'summed where it lives');
      for (let i = 0; i < grad.size; i++) assert.ok(Math.abs(grad.data[i]! - (g1.data[i]! + g2.data[i]!)) < 1e-6, `element ${i}`);
      await assert.rejects(p.accumulateOn(be, randn(rng, [37, 5])), /w gradient: shape mismatch/);
      be.zero(grad);
      assert.ok(grad.data.every((v) => v === 0));
    } finally {
      be.dispose();
    }
  });

  it('other backends keep the tensor as it is', async () => {
    const { createBackend } = await import('../src/kernels/backend.js');
    const ref = await createBackend('reference');
    const t = Tensor.from([1, 2, 3]);
    assert.equal(ref.resident(t), t);
    ref.dispose();
  });
});
