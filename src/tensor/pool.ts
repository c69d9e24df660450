import { errors } from '../errors.js';
import { sizeOf, Tensor, type DType } from './tensor.js';

/**
 * Recycles typed-array storage by size class (powers of two). A fresh 1 MiB array costs tens of
 * microseconds to allocate and zero; a training step allocates hundreds of activations of the same
 * few sizes, so reuse pays. Released tensors must not be used again.
 */
export class TensorPool {
  private readonly free = new Map<string, ArrayBuffer[]>();
  private readonly owned = new WeakSet<ArrayBufferLike>();
  hits = 0;
  misses = 0;

  private static sizeClass(bytes: number): number {
    return bytes <= 64 ? 64 : 2 ** Math.ceil(Math.log2(bytes));
  }

  /** A zero-filled tensor of `shape`, possibly on recycled storage. */
  alloc<D extends DType = 'f32'>(shape: readonly number[], dtype: D = 'f32' as D): Tensor<D> {
    const n = sizeOf(shape);
    const cls = TensorPool.sizeClass(n * 4);
    const list = this.free.get(String(cls));
    let buf = list?.pop();
    if (buf) {
      this.hits++;
      new Uint8Array(buf, 0, n * 4).fill(0);
    } else {
      this.misses++;
      buf = new ArrayBuffer(cls);
      this.owned.add(buf);
    }
    return Tensor.view(buf, 0, shape, dtype);
  }

  /** Gives a tensor's storage back to the pool. Tensors the pool did not allocate are refused. */
  release(t: Tensor): void {
    const buf = t.data.buffer;
    if (!this.owned.has(buf)) throw errors.poolReleaseForeign(`cannot release ${t}: its storage was not allocated by this pool`);
    const key = String(buf.byteLength);
    const list = this.free.get(key) ?? [];
    if (list.includes(buf as ArrayBuffer)) throw errors.poolReleaseForeign(`${t} released twice`);
    list.push(buf as ArrayBuffer);
    this.free.set(key, list);
  }

  clear(): void {
    this.free.clear();
  }
}
