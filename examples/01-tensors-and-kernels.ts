// %% [markdown]
// # Tensors and kernels
//
// Every numeric op runs on a backend: the WebAssembly SIMD matmul with gpu.js kernels on CPUs, gpu.js
// on WebGPU where a GPU exists, and `reference`, a float64 oracle the others are tested against.

// %%
import { createBackend, defaultBackendName, Tensor, display, table } from 'flexmoe';
import type { F32 } from 'flexmoe';

const name = await defaultBackendName();
const be = await createBackend(name);
const ref = await createBackend('reference');
console.log(`this machine uses ${be}`);

// %% [markdown]
// A tensor is a dtype, a shape and a typed array (possibly over a SharedArrayBuffer).

// %%
const x = Tensor.from(Array.from({ length: 6 * 4 }, (_, i) => Math.sin(i)), [6, 4]);
const w = Tensor.from(Array.from({ length: 4 * 3 }, (_, i) => Math.cos(i)), [4, 3]);
console.log(String(x), '·', String(w), '=', String(await be.ops.matmul(x, w, 'nn')));

// %% [markdown]
// The three matmul forms of an expert FFN, each compared with the float64 reference.

// %%
const rows: (string | number)[][] = [];
for (const [form, a, b] of [['nn', x, w], ['nt', await be.ops.matmul(x, w, 'nn'), w], ['tn', x, await be.ops.matmul(x, w, 'nn')]] as [string, F32, F32][]) {
  const got = await be.ops.matmul(a, b, form as 'nn'), want = await ref.ops.matmul(a, b, form as 'nn');
  const err = Math.max(...got.data.map((v, i) => Math.abs(v - want.data[i]!)));
  rows.push([form, got.shape.join('×'), err.toExponential(1)]);
}
display(table(['form', 'result', 'max |error| vs float64'], rows));

// %% [markdown]
// Backward sits beside forward: GELU's backward against a finite difference.

// %%
const v = Tensor.from([0.3]), up = Tensor.from([0.3 + 1e-3]), down = Tensor.from([0.3 - 1e-3]);
const numeric = ((await ref.ops.gelu(up)).data[0]! - (await ref.ops.gelu(down)).data[0]!) / 2e-3;
const analytic = (await be.ops.geluBackward(v, Tensor.from([1]))).data[0]!;
console.log(`d gelu/dx at 0.3: analytic ${analytic.toFixed(5)}, numeric ${numeric.toFixed(5)}`);
be.dispose();
