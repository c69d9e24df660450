import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Scratch memory for passes that allocate the same shapes again and again and keep nothing (a
 * serving forward pass). Inside `arena.run(fn)`, every `Tensor.zeros` / `Tensor.empty` made by
 * `fn` and the async work it starts takes a buffer from the arena; `reset()` hands all of them back
 * at once. Fresh typed arrays cost page faults on first touch and garbage-collector time later
 * (measured: a device serving a d_ff 2048 model spent more time zero-allocating than in its matmul,
 * and four collector threads took half a core); recycled ones cost neither.
 * Tensors from an arena must not outlive the next `reset()`: copy what a pass returns first.
 */
export class Arena {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private used: ArrayBuffer[] = [];
  /** Bytes of fresh memory the arena has allocated (grows only until the shapes repeat). */
  allocatedBytes = 0;
  /** Buffers handed out again from earlier passes. */
  reused = 0;

  /** A buffer of at least `bytes` (rounded up to a power of two), not zeroed. */
  take(bytes: number): ArrayBuffer {
    const cls = bytes <= 64 ? 64 : 2 ** Math.ceil(Math.log2(bytes));
    let buf = this.free.get(cls)?.pop();
    if (buf) this.reused++;
    else {
      buf = new ArrayBuffer(cls);
      this.allocatedBytes += cls;
    }
    this.used.push(buf);
    return buf;
  }

  /** Runs `fn` with this arena serving every tensor allocation of its async context. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return store.run(this, fn);
  }

  /** Everything handed out since the last reset is free again. */
  reset(): void {
    for (const buf of this.used) {
      const list = this.free.get(buf.byteLength);
      if (list) list.push(buf);
      else this.free.set(buf.byteLength, [buf]);
    }
    this.used = [];
  }
}

const store = new AsyncLocalStorage<Arena>();

/** The arena serving the current async context, if any. */
export function currentArena(): Arena | undefined {
  return store.getStore();
}

/** Runs `fn` outside any arena: for tensors made during a pass that must outlive it. */
export function outsideArena<T>(fn: () => T): T {
  return store.exit(fn);
}
