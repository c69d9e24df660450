import { TensorPool } from './pool.js';
import { passContext, withContext } from './context.js';
import type { DType, Tensor } from './tensor.js';

/**
 * Scratch memory for passes that allocate the same shapes again and again and keep nothing (a
 * serving forward pass, a training step). Inside `arena.run(fn)`, every `Tensor.zeros` /
 * `Tensor.empty` made by `fn` and the async work it starts comes from the arena's pool (pool.ts,
 * recycled by size class); `reset()` gives all of them back at once. Fresh typed arrays cost page
 * faults on first touch and garbage-collector time later (measured: a device serving a d_ff 2048
 * model spent more time zero-allocating than in its matmul, and four collector threads took half a
 * core); recycled ones cost neither.
 * Tensors from an arena must not outlive the next `reset()`: copy what a pass returns first.
 */
export class Arena {
  readonly pool = new TensorPool();
  private used: Tensor[] = [];

  /** A tensor on recycled storage, zeroed unless `zero` is false; given back at the next reset. */
  alloc<D extends DType>(shape: readonly number[], dtype: D, zero: boolean): Tensor<D> {
    const t = this.pool.alloc(shape, dtype, zero);
    this.used.push(t);
    return t;
  }

  /** Runs `fn` with this arena serving every tensor allocation of its async context. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return withContext({ arena: this }, fn);
  }

  /** `run`, then `reset` however `fn` ends. */
  async use<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.run(fn);
    } finally {
      this.reset();
    }
  }

  /** Everything handed out since the last reset is free again. */
  reset(): void {
    for (const t of this.used) this.pool.release(t);
    this.used = [];
  }
}


/** The arena serving the current async context, if any. */
export function currentArena(): Arena | undefined {
  return passContext.getStore()?.arena;
}

/** Runs `fn` outside any arena: for tensors made during a pass that must outlive it. */
export function outsideArena<T>(fn: () => T): T {
  return withContext({ arena: undefined }, fn);
}
