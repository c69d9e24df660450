// Placement primitives on expert actors: clone and migrate of an Expert (weights + Adam moments)
// from device 0 to device 1, for three expert sizes; median of 7 after one warm-up.
// One JSON line per size. Usage: npx tsx bench/clone.ts
import { ActorSystem } from '../src/runtime/system.js';
import { siblingModule } from '../src/runtime/thread.js';
import { median, round } from './harness.js';

const system = await ActorSystem.start({ devices: 2, modules: [siblingModule('../actors/expert', import.meta.url)], askTimeoutMs: 120_000 });
try {
  for (const [d, f] of [[64, 128], [256, 1024], [512, 2048]] as const) {
    const args = { name: 'bench.expert', dModel: d, dFF: f, seed: 1, optimizer: { lr: 1e-3 }, backend: 'wasm-simd' };
    const a = await system.spawn('Expert', args, { device: 0 });
    const clone: number[] = [], migrate: number[] = [];
    for (let i = 0; i < 8; i++) {
      let t0 = performance.now();
      const c = await system.clone(a, 1);
      clone.push(performance.now() - t0);
      t0 = performance.now();
      const back = await system.migrate(c, 0);
      migrate.push(performance.now() - t0);
      await system.stop(back);
    }
    await system.stop(a);
    const bytes = (2 * d * f + d + f) * 3 * 4;
    const ms = median(clone.slice(1)), mms = median(migrate.slice(1));
    process.stdout.write(`${JSON.stringify({ bench: 'clone', dModel: d, dFF: f, stateBytes: bytes, cloneMs: round(ms), migrateMs: round(mms), cloneGBps: round(bytes / (ms / 1000) / 1e9) })}\n`);
  }
} finally {
  await system.stop();
}
