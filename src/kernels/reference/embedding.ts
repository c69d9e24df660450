import type { KernelConfig } from '../types.js';
import { errors } from '../../errors.js';
import { expectDType } from '../../tensor/check.js';
import { checkIds, like } from './util.js';

/** Embedding gather and its backward, a scatter-add into the table's gradient. */
export const embedding: KernelConfig<'embedding'> = {
  kernel: 'embedding',
  backend: 'reference',
  run(_ctx, table, ids) {
    expectDType('embedding', ids, 'i32');
    if (table.rank !== 2) throw errors.badShape('embedding', table.shape, '[vocab, dim]');
    const [V, C] = table.shape as [number, number];
    checkIds('embedding', ids, V);
    const out = like(table, [ids.size, C]);
    for (let t = 0; t < ids.size; t++) out.data.set(table.data.subarray(ids.data[t]! * C, ids.data[t]! * C + C), t * C);
    return out;
  },
};

export const embeddingBackward: KernelConfig<'embeddingBackward'> = {
  kernel: 'embeddingBackward',
  backend: 'reference',
  run(_ctx, ids, dy, vocab) {
    expectDType('embeddingBackward', ids, 'i32');
    const C = dy.cols;
    if (dy.rows !== ids.size) throw errors.shapeMismatch('embeddingBackward', 'ids vs dy rows', ids.shape, dy.shape);
    checkIds('embeddingBackward', ids, vocab);
    const acc = new Float64Array(vocab * C);
    for (let t = 0; t < ids.size; t++) {
      const o = ids.data[t]! * C;
      for (let j = 0; j < C; j++) acc[o + j]! += dy.data[t * C + j]!;
    }
    const out = like(dy, [vocab, C]);
    out.data.set(acc);
    return out;
  },
};
