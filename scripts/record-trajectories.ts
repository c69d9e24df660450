// Records the built-in models' 20-step loss trajectories into test/fixtures/trajectories.json
// (npx tsx scripts/record-trajectories.ts). Re-record only when a change is meant to alter the math.
import { writeFileSync } from 'node:fs';
import { runTrajectories } from '../test/support/trajectories.js';

const out = await runTrajectories();
writeFileSync(new URL('../test/fixtures/trajectories.json', import.meta.url), `${JSON.stringify(out, null, 1)}\n`);
console.log(Object.keys(out).join(', '));
