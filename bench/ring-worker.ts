// One end of bench/ring.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { RingReader, RingWriter } from '../src/runtime/ring.js';

const { sab, role, mode, n, floats, skip } = workerData as { sab: SharedArrayBuffer; role: string; mode: string; n: number; floats: number; skip: number };
const keepAlive = setInterval(() => undefined, 1000); // waitAsync alone keeps no thread alive
const clock = () => performance.timeOrigin + performance.now();

parentPort!.once('message', async () => {
  if (role === 'producer') {
    const w = new RingWriter(sab, 'bench');
    const frame = { kind: 0, tag: 0, dtype: 'f32' as const, shape: [floats], payload: new Float32Array(floats).fill(1) };
    for (let i = 0; i < n; i++) {
      if (mode === 'sync') w.writeSync(frame);
      else await w.write(frame);
    }
    parentPort!.postMessage({});
  } else {
    const r = new RingReader(sab, 'bench');
    let start = 0;
    for (let i = 0; i < n; i++) {
      if (i === skip) start = clock();
      const f = mode === 'sync' ? r.readSync() : (await r.read())!;
      r.release(f);
    }
    parentPort!.postMessage({ start, end: clock() });
  }
  clearInterval(keepAlive);
});
parentPort!.postMessage('ready');
