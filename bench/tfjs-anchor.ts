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
}

export async function tfjsAnchor(): Promise<TfjsAnchor> {
  const tf = require('@tensorflow/tfjs-core') as typeof import('@tensorflow/tfjs-core');
  require('@tensorflow/tfjs-backend-wasm');
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
