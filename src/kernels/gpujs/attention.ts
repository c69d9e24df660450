import type { KernelConfig, AttentionShape } from '../types.js';
import { attentionDims, expectScores } from '../shapes.js';
import { Tensor, type F32 } from '../../tensor/tensor.js';
import { unpack, type GpuJsContext } from './context.js';

/**
 * The three batched attention products, one thread per output cell with 2-D indexing (exact past
 * 2^24 elements). Row y of the scores is ((b·H + h)·S + i); tokens are rows b·S + i of [B·S, H·D].
 * Under a causal mask the products skip the weights above the diagonal, as every backend does.
 */
const SCORES = `function (q, k) {
  const S = this.constants.S; const H = this.constants.H; const D = this.constants.D;
  const i = this.thread.y % S; const bh = Math.floor(this.thread.y / S);
  const b = Math.floor(bh / H); const h = bh % H; const j = this.thread.x;
  if (this.constants.causal > 0 && j > i) { return -1000000000; }
  let s = 0;
  for (let c = 0; c < D; c++) { s += q[b * S + i][h * D + c] * k[b * S + j][h * D + c]; }
  return s * this.constants.scale;
}`;
const APPLY = `function (p, v) {
  const S = this.constants.S; const H = this.constants.H; const D = this.constants.D;
  const i = this.thread.y % S; const b = Math.floor(this.thread.y / S);
  const h = Math.floor(this.thread.x / D);
  let s = 0;
  for (let j = 0; j < S; j++) { if (this.constants.causal > 0 && j > i) { break; } s += p[(b * H + h) * S + i][j] * v[b * S + j][this.thread.x]; }
  return s;
}`;
const APPLY_T = `function (p, x) {
  const S = this.constants.S; const H = this.constants.H; const D = this.constants.D;
  const j = this.thread.y % S; const b = Math.floor(this.thread.y / S);
  const h = Math.floor(this.thread.x / D);
  let s = 0;
  for (let i = 0; i < S; i++) { if (this.constants.causal === 0 || i >= j) { s += p[(b * H + h) * S + i][j] * x[b * S + i][this.thread.x]; } }
  return s;
}`;

function run(ctx: GpuJsContext, name: string, src: string, a: F32, b: F32, s: AttentionShape, D: number, out: [number, number]) {
  if (out[0] === 0 || out[1] === 0) return Tensor.zeros(out);
  const constants = { S: s.seq, H: s.heads, D, causal: s.causal ? 1 : 0, scale: s.scale };
  const key = `${name}:${s.batch}:${s.seq}:${s.heads}:${D}:${constants.causal}:${s.scale}`;
  const k = ctx.kernel(key, src, { output: [out[1], out[0]], constants });
  const arg = (t: F32) => ctx.rows(t.data, t.rows, t.cols, t.rows, `${name}.${t === a ? 'a' : 'b'}`);
  return Promise.resolve(k(arg(a), arg(b))).then((r) => unpack(r, out[0], out[1])[0]!);
}

export const attentionScores: KernelConfig<'attentionScores', GpuJsContext> = {
  kernel: 'attentionScores',
  backend: 'gpujs',
  run(ctx, q, k, s) {
    const D = attentionDims('attentionScores', q, s);
    attentionDims('attentionScores', k, s);
    return run(ctx, 'attnScores', SCORES, q, k, s, D, [s.batch * s.heads * s.seq, s.seq]);
  },
};

export const attentionApply: KernelConfig<'attentionApply', GpuJsContext> = {
  kernel: 'attentionApply',
  backend: 'gpujs',
  run(ctx, p, v, s) {
    const D = attentionDims('attentionApply', v, s);
    expectScores('attentionApply', p, s);
    return run(ctx, 'attnApply', APPLY, p, v, s, D, [v.rows, v.cols]);
  },
};

export const attentionApplyT: KernelConfig<'attentionApplyT', GpuJsContext> = {
  kernel: 'attentionApplyT',
  backend: 'gpujs',
  run(ctx, p, x, s) {
    const D = attentionDims('attentionApplyT', x, s);
    expectScores('attentionApplyT', p, s);
    return run(ctx, 'attnApplyT', APPLY_T, p, x, s, D, [x.rows, x.cols]);
  },
};
