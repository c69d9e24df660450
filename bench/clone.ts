// Placement primitives on expert actors: clone and migrate of an Expert (weights + Adam moments)
// from device 0 to device 1, for three expert sizes; median of 7 after one warm-up. Baseline, same
// run: moving a tensor of the same bytes from device 0 to device 1 (two asks, one channel send),
// the floor a clone's transport could reach. One JSON line per size. Usage: npx tsx bench/clone.ts
import { ActorSystem } from '../src/runtime/system.js';
import { siblingModule } from '../src/runtime/thread.js';
import { median, round } from './harness.js';

const system = await ActorSystem.start({ devices: 2, modules: [siblingModule('../actors/expert', import.meta.url), new URL('./transfer-actor.ts', import.meta.url)], askTimeoutMs: 120_000 });
const movers = await Promise.all([0, 1].map((d) => system.spawn('Transfer', {}, { device: d })));
try {
  for (const [d, f] of [[64, 128], [256, 1024], [512, 2048]] as const) {
    const args = { name: 'bench.expert', dModel: d, dFF: f, seed: 1, optimizer: { lr: 1e-3 }, backend: 'wasm-simd' };
    const a = await system.spawn('Expert', args, { device: 0 });
    const bytes = (2 * d * f + d + f) * 3 * 4;
    const clone: number[] = [], migrate: number[] = [], transfer: number[] = [];
    for (let i = 0; i < 8; i++) {
      const t = performance.now();
      await Promise.all(movers.map((m) => system.ask(m, { floats: bytes / 4, from: 0, tag: 1000 + i })));
      transfer.push(performance.now() - t);
      let t0 = performance.now();
      const c = await system.clone(a, 1);
      clone.push(performance.now() - t0);
      t0 = performance.now();
      const back = await system.migrate(c, 0);
      migrate.push(performance.now() - t0);
      await system.stop(back);
    }
    await system.stop(a);
    const ms = median(clone.slice(1)), mms = median(migrate.slice(1)), tms = median(transfer.slice(1));
    process.stdout.write(`${JSON.stringify({ bench: 'clone', dModel: d, dFF: f, stateBytes: bytes, cloneMs: round(ms), migrateMs: round(mms), transferMs: round(tms), cloneOverTransfer: round(ms / tms) })}\n`);
  }
} finally {
  await system.stop();
}
