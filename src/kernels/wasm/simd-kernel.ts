import { Tensor } from '../../tensor/tensor.js';
import type { KernelArgs, KernelConfig, KernelName, KernelResult } from '../types.js';
import type { WasmModule } from './memory.js';

export type WasmContext = { wasm: WasmModule };

const isF64 = (a: unknown) => a instanceof Tensor && a.dtype === 'f64';

/**
 * A wasm-simd kernel: `run` computes in float32 in the kernel module. A float64 operand (the
 * finite-difference gradient checks) goes to the reference kernel instead, which computes in float64.
 */
export function simd<K extends KernelName>(ref: KernelConfig<K>, run: (m: WasmModule, ...args: KernelArgs<K>) => KernelResult<K>): KernelConfig<K, WasmContext> {
  return {
    kernel: ref.kernel,
    backend: 'wasm',
    run: (ctx, ...args) => {
      for (const a of args) if (isF64(a)) return ref.run(null, ...args);
      return run(ctx.wasm, ...args);
    },
  };
}
