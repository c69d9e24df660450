// One end of the calibration ring probe (see calibrate.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { RingReader, RingWriter } from '../runtime/ring.js';

const { sab, role, frames, floats } = workerData as { sab: SharedArrayBuffer; role: 'producer' | 'consumer'; frames: number; floats: number };
const keepAlive = setInterval(() => undefined, 1000);
(async () => {
  if (role === 'producer') {
    const w = new RingWriter(sab, 'calibrate');
    const frame = { kind: 0, tag: 0, dtype: 'f32' as const, shape: [floats], payload: new Float32Array(floats) };
    for (let i = 0; i < frames; i++) await w.write(frame);
    parentPort!.postMessage(0);
  } else {
    const r = new RingReader(sab, 'calibrate');
    let start = 0;
    for (let i = 0; i < frames; i++) {
      const f = (await r.read())!;
      if (i === frames / 4) start = performance.timeOrigin + performance.now();
      r.release(f);
    }
    parentPort!.postMessage((performance.timeOrigin + performance.now() - start) / ((frames * 3) / 4));
  }
  clearInterval(keepAlive);
})();
