import { existsSync } from 'node:fs';
import { errors } from '../errors.js';
import { findKernel, getKernel } from './registry.js';
import { WasmModule } from './wasm/memory.js';
import { kernelNames, type KernelName, type Ops } from './types.js';
import type { F32 } from '../tensor/tensor.js';
import { GpuJsContext } from './gpujs/context.js';
import type { GpuMode } from './gpujs/gpujs.js';
import './register.js';

export const backendNames = ['reference', 'wasm-simd', 'gpujs-webgpu', 'gpujs-headlessgl', 'gpujs-webasm', 'gpujs-cpu'] as const;
export type BackendName = (typeof backendNames)[number];

/**
 * A backend: a name, the context its kernels need, and `ops`, every kernel as an async function.
 * Layers hold a Backend and never know which one it is.
 *
 * @example
 * const be = await createBackend('gpujs-webasm');
 * const y = await be.ops.matmul(x, w, 'nn');
 * be.dispose();
 */
export class Backend {
  readonly name: BackendName;
  readonly ops: Ops;
  private readonly context: unknown;

  /**
   * `layers` are (family, context) pairs in priority order: each kernel comes from the first family
   * that has it (the wasm-simd backend layers its matmul over the gpu.js WebAssembly kernels).
   */
  constructor(name: BackendName, layers: readonly [string, unknown][]) {
    this.name = name;
    this.context = layers.find(([, c]) => c instanceof GpuJsContext)?.[1] ?? layers[0]![1];
    this.contexts = layers.map(([, c]) => c);
    const ops: Record<string, unknown> = {};
    for (const kernel of kernelNames) {
      const i = layers.findIndex(([family]) => findKernel(kernel as KernelName, [family]));
      if (i < 0) throw errors.missingKernel(kernel, layers.map(([f]) => f).join('+'));
      const { run } = getKernel(kernel as KernelName, layers[i]![0]);
      const ctx = layers[i]![1];
      ops[kernel] = async (...args: unknown[]) => (run as (...a: unknown[]) => unknown)(ctx, ...args);
    }
    this.ops = ops as Ops;
  }

  private readonly contexts: unknown[];

  /**
   * `t`'s values where this backend's kernels read them without copying (the kernel module's memory
   * on wasm-simd), for tensors that live long and are read every step: parameters and optimizer
   * moments. Other backends, and tensors that are not float32, get `t` itself. Write into the
   * returned tensor, never into `t`, from then on.
   */
  resident<T extends F32>(t: T): T {
    const wasm = this.wasmModule;
    return wasm ? (wasm.resident(t) as T) : t;
  }

  /** Fills `t` with zeros (a parameter's gradient after the update), in place where it is resident. */
  zero(t: F32): void {
    const wasm = this.wasmModule;
    if (wasm) wasm.zero(t);
    else t.data.fill(0);
  }

  /** The kernel module of a wasm-simd backend, whose memory holds resident tensors. */
  private get wasmModule(): WasmModule | undefined {
    return (this.contexts[0] as { wasm?: WasmModule } | null)?.wasm;
  }

  /** Kernels compiled so far (gpu.js backends); a steady state means sizes are bucketed well. */
  get compiledKernels(): number {
    return this.context instanceof GpuJsContext ? this.context.compiled : 0;
  }

  dispose(): void {
    for (const c of this.contexts) if (c instanceof GpuJsContext) c.destroy();
  }

  toString(): string {
    return `Backend(${this.name})`;
  }
}

/** Creates a backend by name; an unknown name is an error listing the known ones. */
export async function createBackend(name: string): Promise<Backend> {
  if (!(backendNames as readonly string[]).includes(name)) throw errors.unknownBackend(name, backendNames);
  const n = name as BackendName;
  if (n === 'reference') return new Backend(n, [['reference', null]]);
  if (n === 'wasm-simd') {
    if (!WasmModule.supported()) throw errors.backendUnavailable(n, 'this engine has no WebAssembly SIMD');
    return new Backend(n, [['wasm', { wasm: new WasmModule() }]]);
  }
  const mode = n.slice('gpujs-'.length) as GpuMode;
  if (mode === 'webgpu') {
    const why = await installWebGPU();
    if (why) throw errors.backendUnavailable(n, why);
  }
  if (mode === 'headlessgl' && !(await headlessGLWorks())) throw errors.backendUnavailable(n, 'the optional `gl` package is missing or has no display');
  return new Backend(n, [['gpujs', new GpuJsContext(mode)]]);
}

const perThread = new Map<string, Promise<Backend>>();

/**
 * One backend per name per thread, shared by every actor the thread hosts (a trainer and the
 * expert and gate actors beside it): kernels compile once, and one thread runs one op at a time.
 */
export function sharedBackend(name: string): Promise<Backend> {
  let b = perThread.get(name);
  if (!b) {
    perThread.set(name, (b = createBackend(name)));
    b.catch(() => perThread.delete(name));
  }
  return b;
}

/**
 * The backend this machine should use: FLEXMOE_BACKEND if set; else gpu.js on WebGPU when a real
 * (non-fallback) adapter exists; else headless GL when it works; else the WebAssembly SIMD matmul
 * over gpu.js WebAssembly kernels (wasm-simd); else gpu.js WebAssembly alone.
 */
export async function defaultBackendName(env: NodeJS.ProcessEnv = process.env): Promise<BackendName> {
  const forced = env.FLEXMOE_BACKEND;
  if (forced) {
    if (!(backendNames as readonly string[]).includes(forced)) throw errors.unknownBackend(forced, backendNames);
    return forced as BackendName;
  }
  if ((await installWebGPU()) === null) return 'gpujs-webgpu';
  if (await headlessGLWorks()) return 'gpujs-headlessgl';
  // On CPUs the SIMD matmul measured 3–5× gpu.js's best WebAssembly form (bench/kernels.ts).
  return WasmModule.supported() ? 'wasm-simd' : 'gpujs-webasm';
}

export async function createDefaultBackend(): Promise<Backend> {
  return createBackend(await defaultBackendName());
}

let webgpuVerdict: Promise<string | null> | undefined;

/** Installs `navigator.gpu` for gpu.js when a real adapter exists; returns why not otherwise. */
function installWebGPU(): Promise<string | null> {
  webgpuVerdict ??= (async () => {
    // Without a GPU device node there is no real adapter to find; skip loading Dawn (it is large
    // and prints Vulkan warnings on machines without a GPU).
    if (!gpuDevicePresent()) return 'no GPU device on this machine';
    try {
      const mod = (await import('webgpu' as string)) as { create: (o: string[]) => unknown; globals: object };
      const gpu = mod.create([]) as { requestAdapter(): Promise<{ info?: { isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean } | null> };
      const adapter = await gpu.requestAdapter();
      if (!adapter) return 'no WebGPU adapter';
      if (adapter.info?.isFallbackAdapter || adapter.isFallbackAdapter) return 'only a software (fallback) WebGPU adapter';
      Object.assign(globalThis, mod.globals);
      (globalThis as { navigator?: unknown }).navigator = { gpu };
      return null;
    } catch (e) {
      return `the webgpu package does not load (${(e as Error).message.split('\n')[0]})`;
    }
  })();
  return webgpuVerdict;
}

function gpuDevicePresent(): boolean {
  return existsSync('/dev/nvidia0') || existsSync('/dev/dri') || existsSync('/dev/kfd') || process.platform === 'darwin' || process.platform === 'win32';
}

async function headlessGLWorks(): Promise<boolean> {
  const { gpujs } = await import('./gpujs/gpujs.js');
  try {
    return Boolean(gpujs().GPU.isHeadlessGLSupported);
  } catch {
    return false;
  }
}
