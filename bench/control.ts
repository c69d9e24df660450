// Control-plane round trip: an ask to an actor on a device thread (msgpackr over postMessage, our
// runtime) against an empty task on a one-thread Piscina pool (atomics: 'async', as a device would use).
// Interleaved rounds, medians. Usage: npx tsx bench/control.ts
import { Piscina } from 'piscina';
import { ActorSystem } from '../src/runtime/system.js';
import { median, round } from './harness.js';

const rounds = 5, perRound = 2000;
const system = await ActorSystem.start({ devices: 1, modules: [new URL('./echo-actor.ts', import.meta.url)] });
const pool = new Piscina({ filename: new URL('./piscina-echo.mjs', import.meta.url).href, minThreads: 1, maxThreads: 1, atomics: 'async', idleTimeout: Infinity });
try {
  const echo = await system.spawn('Echo', {}, { device: 0 });
  const ours: number[] = [], theirs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    for (let i = 0; i < perRound; i++) await system.ask(echo, i);
    ours.push(((performance.now() - t0) / perRound) * 1000);
    t0 = performance.now();
    for (let i = 0; i < perRound; i++) await pool.run(i);
    theirs.push(((performance.now() - t0) / perRound) * 1000);
  }
  process.stdout.write(`${JSON.stringify({ bench: 'control', actorAskUs: round(median(ours.slice(1))), piscinaRunUs: round(median(theirs.slice(1))) })}\n`);
} finally {
  await system.stop();
  await pool.destroy();
}
