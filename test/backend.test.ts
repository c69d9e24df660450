import assert from 'node:assert/strict';
import { backendNames, createBackend, defaultBackendName } from '../src/kernels/backend.js';
import { registerKernel, registeredKernels } from '../src/kernels/registry.js';
import { kernelNames } from '../src/kernels/types.js';
import { matmul } from '../src/kernels/reference/matmul.js';
import { bucket } from '../src/kernels/gpujs/context.js';
import { tanh } from '../src/kernels/wasm/elementwise.js';
import { Tensor } from '../src/tensor/tensor.js';

describe('kernel registry and backend selection', () => {
  it('every complete backend family implements every kernel; wasm layers matmul, GELU and the reference loops over gpu.js', () => {
    for (const family of ['reference', 'gpujs']) assert.deepEqual(registeredKernels(family).sort(), [...kernelNames].sort(), family);
    // Everything but colSum and sumSquares, which stay on gpu.js (as fast there).
    assert.deepEqual(registeredKernels('wasm').sort(), kernelNames.filter((k) => k !== 'colSum' && k !== 'sumSquares').sort());
  });

  it('the loop tanh stays within 3e-7 of Math.tanh, saturates and keeps NaN', () => {
    let worst = 0;
    for (let u = -20; u <= 20; u += 1e-3) worst = Math.max(worst, Math.abs(tanh(u) - Math.tanh(u)));
    assert.ok(worst < 3e-7, `worst error ${worst}`);
    assert.ok(Math.abs(tanh(Infinity) - 1) < 3e-7 && Math.abs(tanh(-Infinity) + 1) < 3e-7);
    assert.ok(Number.isNaN(tanh(NaN)));
  });

  it('registering a duplicate kernel throws, naming kernel and backend', () => {
    assert.throws(() => registerKernel(matmul), /kernel "matmul" is already registered for backend "reference"/);
  });

  it('an unknown backend name lists the available ones', async () => {
    await assert.rejects(createBackend('tpu'), new RegExp(`unknown backend "tpu"; available: ${backendNames.join(', ')}`));
    await assert.rejects(defaultBackendName({ FLEXMOE_BACKEND: 'nope' }), /unknown backend "nope"; available: reference/);
  });

  it('FLEXMOE_BACKEND overrides the choice; without it a CPU machine gets gpu.js WebAssembly', async () => {
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
