import { calibrate } from '../sched/calibrate.js';
import { errors } from '../errors.js';
import { natsCredentials } from '../hosts/credentials.js';
import { intFlag, type Flags } from './args.js';

export const calibrateHelp = `flexmoe calibrate [--d-model D] [--d-ff F] [--devices N] [--backend NAME] [--nats URL --hosts H [--nats-creds FILE]]
  Measures this machine's expert throughput and channel bandwidth; prints a cost profile (JSON)
  for flexmoe simulate --profile FILE and live policies. With --nats URL --hosts H it claims H hosts
  (flexmoe host) and measures the link between two of them: a host is a node of the profile.`;

export async function calibrateCommand(flags: Flags): Promise<void> {
  const nats = typeof flags.nats === 'string' ? flags.nats : undefined;
  if (!nats && (flags.hosts !== undefined || flags['nats-creds'] !== undefined)) throw errors.badArgument('--hosts', '--hosts and --nats-creds go with --nats URL');
  const profile = await calibrate({
    dModel: intFlag(flags, 'd-model', 64, 1),
    dFF: intFlag(flags, 'd-ff', 128, 1),
    devices: intFlag(flags, 'devices', 2, 1),
    backend: typeof flags.backend === 'string' ? flags.backend : undefined,
    hosts: nats ? { nats, hosts: intFlag(flags, 'hosts', 2, 1, 64), credentials: natsCredentials(typeof flags['nats-creds'] === 'string' ? flags['nats-creds'] : undefined) } : undefined,
  });
  process.stdout.write(`${JSON.stringify(profile, null, 2)}\n`);
}
