import { calibrate } from '../sched/calibrate.js';
import { intFlag, type Flags } from './args.js';

export const calibrateHelp = `flexmoe calibrate [--d-model D] [--d-ff F] [--devices N] [--backend NAME]
  Measures this machine's expert throughput and channel bandwidth; prints a cost profile (JSON)
  for flexmoe simulate --profile FILE and live policies.`;

export async function calibrateCommand(flags: Flags): Promise<void> {
  const profile = await calibrate({
    dModel: intFlag(flags, 'd-model', 64, 1),
    dFF: intFlag(flags, 'd-ff', 128, 1),
    devices: intFlag(flags, 'devices', 2, 1),
    backend: typeof flags.backend === 'string' ? flags.backend : undefined,
  });
  process.stdout.write(`${JSON.stringify(profile, null, 2)}\n`);
}
