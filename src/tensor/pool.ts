import { errors } from '../errors.js';
import { sizeOf, Tensor, type DType } from './tensor.js';

/**
 * Recycles typed-array storage by size class (powers of two). Fresh memory is expensive: every
 * first-touched page faults (measured up to ~13 ms for 4 MiB on this VM kind), and a training step
 * or a channel allocates the same few sizes over and over, so reuse pays. Released tensors must not
 * be used again.
 */
export class TensorPool {
  private readonly free = new Map<string, ArrayBuffer[]>();
  private readonly owned = new WeakSet<ArrayBufferLike>();
  /** Storage now in a free list (a set, so releasing many buffers at once stays linear). */
  private readonly idle = new WeakSet<ArrayBufferLike>();
  hits = 0;
  misses = 0;
  /** Bytes of fresh memory allocated (stops growing once the sizes in use repeat). */
  freshBytes = 0;

  private static sizeClass(bytes: number): number {
    return bytes <= 64 ? 64 : 2 ** Math.ceil(Math.log2(bytes));
  }

  /**
   * A tensor of `shape`, possibly on recycled storage; zero-filled unless `zero` is false (for
   * callers that overwrite every element, such as a channel receiving a frame).
   */
  alloc<D extends DType = 'f32'>(shape: readonly number[], dtype: D = 'f32' as D, zero = true): Tensor<D> {
    const n = sizeOf(shape) * (dtype === 'f64' ? 8 : 4);
    const cls = TensorPool.sizeClass(n);
    const list = this.free.get(String(cls));
    let buf = list?.pop();
    if (buf) {
      this.hits++;
      this.idle.delete(buf);
      if (zero) new Uint8Array(buf, 0, n).fill(0);
    } else {
      this.misses++;
      this.freshBytes += cls;
      buf = new ArrayBuffer(cls);
      this.owned.add(buf);
    }
    return Tensor.view(buf, 0, shape, dtype);
  }

  /** Whether `t`'s storage came from this pool (and may be released to it). */
  owns(t: Tensor): boolean {
    return this.owned.has(t.data.buffer);
  }

  /** Gives a tensor's storage back to the pool. Tensors the pool did not allocate are refused. */
  release(t: Tensor): void {
    const buf = t.data.buffer;
    if (!this.owned.has(buf)) throw errors.poolReleaseForeign(`cannot release ${t}: its storage was not allocated by this pool`);
    if (this.idle.has(buf)) throw errors.poolReleaseForeign(`${t} released twice`);
    this.idle.add(buf);
    const key = String(buf.byteLength);
    const list = this.free.get(key) ?? [];
    list.push(buf as ArrayBuffer);
    this.free.set(key, list);
  }

  clear(): void {
    this.free.clear();
  }
}
