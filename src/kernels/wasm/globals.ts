// The WebAssembly global as the kernel module's users need it (the TypeScript DOM lib, which types
// it, is not loaded), and the kernel module compiled once per thread.
import { simdWasm } from './simd-module.js';

export interface WasmMemory {
  buffer: SharedArrayBuffer;
  grow(pages: number): number;
}

export const Wasm = (globalThis as unknown as {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
    Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
    validate(bytes: Uint8Array): boolean;
  };
}).WebAssembly;

export const WASM_PAGE = 65536;

let compiled: object | undefined;

/** The compiled SIMD kernel module (simd/*.ts), compiled on first use. */
export function simdModule(): object {
  return (compiled ??= new Wasm.Module(Buffer.from(simdWasm, 'base64')));
}
