import assert from 'node:assert/strict';
import { backendNames, createBackend, defaultBackendName } from '../src/kernels/backend.js';
import { registerKernel, registeredKernels } from '../src/kernels/registry.js';
import { kernelNames } from '../src/kernels/types.js';
import { matmul } from '../src/kernels/reference/matmul.js';
import { bucket } from '../src/kernels/gpujs/context.js';
import { Tensor } from '../src/tensor/tensor.js';

describe('kernel registry and backend selection', () => {
  it('every backend family implements every kernel', () => {
    for (const family of ['reference', 'gpujs', 'wasm']) assert.deepEqual(registeredKernels(family).sort(), [...kernelNames].sort(), family);
  });

  it('the four-lane exp and tanh of the SIMD kernels hold float32 accuracy over their whole range, and keep NaN', async () => {
    const be = await createBackend('wasm-simd');
    const xs = Tensor.from(Array.from({ length: 40001 }, (_, i) => -100 + i * 5e-3).concat([Infinity, -Infinity, NaN]));
    const sig = await be.ops.sigmoid(xs), gelu = await be.ops.gelu(xs);
    let worstSig = 0, worstGelu = 0;
    for (let i = 0; i < xs.size - 3; i++) {
      const x = xs.data[i]!, s = 1 / (1 + Math.exp(-x)), g = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
      worstSig = Math.max(worstSig, Math.abs(sig.data[i]! - s) / Math.max(s, 1e-30));
      worstGelu = Math.max(worstGelu, Math.abs(gelu.data[i]! - g) / Math.max(Math.abs(g), 1));
    }
    // Relative to σ itself down to σ(-87) ≈ 1e-38; the clamp of e^x at 88 only bites below that.
    assert.ok(worstSig < 2e-6, `sigmoid: worst relative error ${worstSig}`);
    assert.ok(worstGelu < 1e-6, `gelu: worst error ${worstGelu}`);
    const n = xs.size;
    assert.deepEqual([sig.data[n - 3], sig.data[n - 2]], [1, 0]);
    assert.ok(Number.isNaN(sig.data[n - 1]!) && Number.isNaN(gelu.data[n - 1]!));
    // A causally masked score (−1e9) and −∞ get exactly zero weight.
    const p = await be.ops.softmax(Tensor.from([0, -1e9, -Infinity, 1], [1, 4]));
    assert.equal(p.data[1], 0);
    assert.equal(p.data[2], 0);
    be.dispose();
  });

  it('registering a duplicate kernel throws, naming kernel and backend', () => {
    assert.throws(() => registerKernel(matmul), /kernel "matmul" is already registered for backend "reference"/);
  });

  it('an unknown backend name lists the available ones', async () => {
    await assert.rejects(createBackend('tpu'), new RegExp(`unknown backend "tpu"; available: ${backendNames.join(', ')}`));
    await assert.rejects(defaultBackendName({ FLEXMOE_BACKEND: 'nope' }), /unknown backend "nope"; available: reference/);
  });

  it('FLEXMOE_BACKEND overrides the choice; without it a CPU machine gets wasm-simd', async () => {
    assert.equal(await defaultBackendName({ FLEXMOE_BACKEND: 'gpujs-cpu' }), 'gpujs-cpu');
    const name = await defaultBackendName({});
    assert.ok(['gpujs-webgpu', 'gpujs-headlessgl', 'wasm-simd'].includes(name), name);
  });

  it('row buckets are multiples of 4 and, past 8 rows, pad by at most half', () => {
    for (let n = 1; n <= 5000; n++) {
      const b = bucket(n);
      assert.ok(b >= n && b % 4 === 0, `bucket(${n}) = ${b}`);
      if (n > 8) assert.ok(b / n <= 1.5, `bucket(${n}) = ${b} wastes too much`);
    }
  });

  it('variable token counts reuse compiled kernels (bucketing)', async () => {
    const be = await createBackend('gpujs-webasm');
    try {
      const w = Tensor.zeros([8, 8]);
      for (const T of [33, 40, 47, 48]) await be.ops.matmul(Tensor.zeros([T, 8]), w, 'nn');
      assert.equal(be.compiledKernels, 1, 'T in 33..48 shares the 48-row bucket');
    } finally {
      be.dispose();
    }
  });
});
