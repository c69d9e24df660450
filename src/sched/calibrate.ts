import { createBackend, defaultBackendName } from '../kernels/backend.js';
import { ffnStepMatmuls } from '../kernels/ffn-step.js';
import { siblingModule, startThread } from '../runtime/thread.js';
import { ringBytes } from '../runtime/ring.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import type { CostProfile } from './cost.js';

/**
 * Measures this machine's cost-model constants: expert FFN throughput on the default backend at
 * the model's shapes, and device-to-device channel bandwidth (a ring between two threads). All
 * devices are threads of one process, so they form one "node".
 */
export async function calibrate(opts: { dModel: number; dFF: number; devices: number; backend?: string; tokens?: number }): Promise<CostProfile> {
  const { dModel: d, dFF: f, devices } = opts;
  const T = opts.tokens ?? 256;
  const be = await createBackend(opts.backend ?? (await defaultBackendName())); // the backend the devices will run
  let tflops: number;
  try {
    const rand = (r: number, c: number) => Tensor.from(Float32Array.from({ length: r * c }, (_, i) => Math.sin(i) * 0.1), [r, c]) as F32;
    const x = rand(T, d), w1 = rand(d, f), w2 = rand(f, d), dy = rand(T, d);
    const step = ffnStepMatmuls(be, x, w1, w2, dy);
    await step();
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await step();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    tflops = (12 * T * d * f) / (times[2]! * 1e9);
  } finally {
    be.dispose();
  }
  const gbps = await ringGBps();
  return {
    name: 'this-machine',
    devicesPerNode: devices,
    intraNodeGBps: gbps,
    interNodeGBps: gbps,
    expertTflops: tflops,
    denseTflops: tflops,
    dModel: d,
    dFF: f,
    bytesPerValue: 4,
    denseFlopsPerToken: 24 * d * d,
    stateBytesFactor: 3,
    training: true,
  };
}

async function ringGBps(floats = 16384, frames = 800): Promise<number> {
  const sab = new SharedArrayBuffer(ringBytes(floats * 4, 8));
  const url = siblingModule('./calibrate-worker', import.meta.url);
  const consumer = startThread(url, { workerData: { sab, role: 'consumer', frames, floats } });
  const producer = startThread(url, { workerData: { sab, role: 'producer', frames, floats } });
  try {
    const msPerFrame = await new Promise<number>((resolve, reject) => {
      consumer.once('message', resolve);
      consumer.once('error', reject);
      producer.once('error', reject);
    });
    return (floats * 4) / (msPerFrame * 1e6);
  } finally {
    await Promise.all([consumer.terminate(), producer.terminate()]);
  }
}
