import { registerKernels } from './registry.js';
import { referenceKernels } from './reference/index.js';
import { gpujsKernels } from './gpujs/index.js';
import { wasmKernels } from './wasm/index.js';

// Every backend family registers here, once; a duplicate (kernel, backend) pair throws.
registerKernels(referenceKernels);
registerKernels(gpujsKernels);
registerKernels(wasmKernels);
