import type { KernelConfig } from '../types.js';
import { errors } from '../../errors.js';
import { expectDType } from '../../tensor/check.js';
import { Tensor } from '../../tensor/tensor.js';
import { bucket, unpack, type GpuJsContext } from './context.js';
import { checkIds } from '../reference/util.js';

/**
 * Embedding gather, and its backward as a gather too: one thread per (vocab row, column) sums the
 * dy rows whose id matches. Ids travel as floats (exact below 2^24, far above any vocabulary).
 */
export const embedding: KernelConfig<'embedding', GpuJsContext> = {
  kernel: 'embedding',
  backend: 'gpujs',
  async run(ctx, table, ids) {
    expectDType('embedding', ids, 'i32');
    if (table.rank !== 2) throw errors.badShape('embedding', table.shape, '[vocab, dim]');
    const [V, C] = table.shape as [number, number];
    checkIds('embedding', ids, V);
    const T = ids.size;
    if (T === 0) return Tensor.zeros([0, C]);
    const idRows = Float32Array.from(ids.data);
    const rb = bucket(T);
    const k = ctx.kernel(`embedding:${rb}:${V}:${C}`, `function (ids, tab) { return tab[ids[this.thread.y][0]][this.thread.x]; }`, { output: [C, rb] });
    const r = await k(ctx.rows(idRows, T, 1, rb, 'emb.ids'), ctx.rows(table.data, V, C, V, 'emb.tab'));
    return unpack(r, T, C)[0]!;
  },
};

export const embeddingBackward: KernelConfig<'embeddingBackward', GpuJsContext> = {
  kernel: 'embeddingBackward',
  backend: 'gpujs',
  async run(ctx, ids, dy, vocab) {
    expectDType('embeddingBackward', ids, 'i32');
    if (dy.rows !== ids.size) throw errors.shapeMismatch('embeddingBackward', 'ids vs dy rows', ids.shape, dy.shape);
    checkIds('embeddingBackward', ids, vocab);
    const T = ids.size, C = dy.cols;
    if (T === 0 || vocab === 0) return Tensor.zeros([vocab, C]);
    const rb = bucket(T);
    // Padded token rows get id −1 so they match no vocabulary row.
    const idf = new Float32Array(rb).fill(-1);
    idf.set(ids.data);
    const src = `function (g, ids) {
      let s = 0;
      for (let t = 0; t < this.constants.T; t++) { if (ids[t] === this.thread.y) { s += g[t][this.thread.x]; } }
      return s;
    }`;
    const k = ctx.kernel(`embeddingBackward:${rb}:${vocab}:${C}`, src, { output: [C, vocab], constants: { T: rb } });
    const r = await k(ctx.rows(dy.data, T, C, rb, 'embb.dy'), idf);
    return unpack(r, vocab, C)[0]!;
  },
};
