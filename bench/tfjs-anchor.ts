import { createRequire } from 'node:module';

/**
 * The anchor: the same matmuls through @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD, one thread;
 * its threaded build cannot start workers in Node). Transposed operands are transposed explicitly
 * first, which measured faster than matMul's transpose flags.
 */
const require = createRequire(import.meta.url);

export interface TfjsAnchor {
  /** Runs the six matmuls of an expert FFN step on [T,d]·[d,f] shapes; returns when results are read back. */
  ffnStep(T: number, d: number, f: number): () => void;
  matmulNN(T: number, d: number, f: number): () => void;
  /**
   * Causal multi-head attention forward and backward built from tfjs ops (batched matMul, softmax,
   * a −1e9 mask) on tokens [B·S, H·D], gradients by tf.grads: d(q, k, v) for an upstream gradient.
   */
  attentionStep(B: number, S: number, H: number, D: number): () => void;
}

export async function tfjsAnchor(): Promise<TfjsAnchor> {
  const tf = require('@tensorflow/tfjs-core') as typeof import('@tensorflow/tfjs-core');
  require('@tensorflow/tfjs-backend-wasm');
  require('@tensorflow/tfjs-core/dist/register_all_gradients'); // tf.grads needs them; core alone has none
  tf.env().set('WASM_HAS_SIMD_SUPPORT', true);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  await tf.setBackend('wasm');
  await tf.ready();
  const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 0.1);
  return {
    ffnStep(T, d, f) {
      const x = tf.tensor2d(rnd(T * d), [T, d]), w1 = tf.tensor2d(rnd(d * f), [d, f]), w2 = tf.tensor2d(rnd(f * d), [f, d]);
      const dy = tf.tensor2d(rnd(T * d), [T, d]);
      return () => {
        const outs = tf.tidy(() => {
          const h = tf.matMul(x, w1); // forward
          const y = tf.matMul(h, w2);
          const dh = tf.matMul(dy, tf.transpose(w2)); // backward, input gradients
          const dx = tf.matMul(dh, tf.transpose(w1));
          const dw2 = tf.matMul(tf.transpose(h), dy); // weight gradients
          const dw1 = tf.matMul(tf.transpose(x), dh);
          return [y, dx, dw1, dw2];
        });
        for (const o of outs) {
          o.dataSync();
          o.dispose();
        }
      };
    },
    attentionStep(B, S, H, D) {
      const W = H * D, scale = 1 / Math.sqrt(D);
      const q = tf.tensor2d(rnd(B * S * W), [B * S, W]), k = tf.tensor2d(rnd(B * S * W), [B * S, W]), v = tf.tensor2d(rnd(B * S * W), [B * S, W]);
      const dOut = tf.tensor2d(rnd(B * S * W), [B * S, W]);
      const mask = tf.tensor2d(Float32Array.from({ length: S * S }, (_, n) => (n % S > Math.floor(n / S) ? -1e9 : 0)), [S, S]);
      const heads = (x: import('@tensorflow/tfjs-core').Tensor) => tf.transpose(tf.reshape(x, [B, S, H, D]), [0, 2, 1, 3]);
      const attention = (qq: import('@tensorflow/tfjs-core').Tensor, kk: import('@tensorflow/tfjs-core').Tensor, vv: import('@tensorflow/tfjs-core').Tensor) => {
        const scores = tf.add(tf.mul(tf.matMul(heads(qq), heads(kk), false, true), scale), mask);
        const ctx = tf.matMul(tf.softmax(scores), heads(vv));
        return tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B * S, W]);
      };
      const grads = tf.grads((qq, kk, vv) => attention(qq, kk, vv) as import('@tensorflow/tfjs-core').Tensor);
      return () => {
        const outs = tf.tidy(() => grads([q, k, v], dOut));
        for (const o of outs) {
          o.dataSync();
          o.dispose();
        }
      };
    },
    matmulNN(T, d, f) {
      const x = tf.tensor2d(rnd(T * d), [T, d]), w = tf.tensor2d(rnd(d * f), [d, f]);
      return () => {
        const y = tf.matMul(x, w);
        y.dataSync();
        y.dispose();
      };
    },
  };
}
