import { calibrate } from '../sched/calibrate.js';
import { errors } from '../errors.js';
import { natsCredentials } from '../hosts/credentials.js';
import { intFlag, type Flags } from './args.js';
import { modelFromFlags } from './model-flags.js';
import { measureModelStep } from '../train/calibrate-step.js';
import type { TaskName } from '../models/tasks.js';

export const calibrateHelp = `flexmoe calibrate [model flags as for train] [--devices N] [--backend NAME] [--nats URL --hosts H [--nats-creds FILE]]
  Measures this machine's expert cost per row and per buffer (expertCallMs: one expert's training
  step timed in one thread at two row counts), channel bandwidth, gradient all-reduce bandwidth and
  the fixed cost of a collective (collectiveMs); prints a cost profile (JSON)
  for flexmoe simulate --profile FILE and live policies. On local devices it also trains the model
  a few steps with unskewed routing (uniform draws for --routing, the learned router with no
  initial skew otherwise), at its batch and again with its rows on one expert per device (a quarter
  of its batch where it has no more experts than that): expertTflops is then what its experts
  cost per row there beyond the buffers' fixed cost, expertHeldMs what holding one more
  expert costs a device per step (its optimizer update and the like), and unmodelledMs the per-layer time
  of its step that no placement changes (attention, norms, head, optimizer), which the simulator
  adds to every step. With --nats URL --hosts H it claims H hosts
  (flexmoe host) and measures the link between two of them: a host is a node of the profile.`;

export async function calibrateCommand(flags: Flags): Promise<void> {
  const nats = typeof flags.nats === 'string' ? flags.nats : undefined;
  if (!nats && (flags.hosts !== undefined || flags['nats-creds'] !== undefined)) throw errors.badArgument('--hosts', '--hosts and --nats-creds go with --nats URL');
  const { model, modules, config, batch, lr } = await modelFromFlags(flags);
  const devices = intFlag(flags, 'devices', 2, 1, 64);
  const profile = await calibrate({
    dModel: config.dModel,
    dFF: config.dFF,
    devices,
    backend: typeof flags.backend === 'string' ? flags.backend : undefined,
    hosts: nats ? { nats, hosts: intFlag(flags, 'hosts', 2, 1, 64), credentials: natsCredentials(typeof flags['nats-creds'] === 'string' ? flags['nats-creds'] : undefined) } : undefined,
  });
  if (!nats && model !== 'dense') {
    const step = await measureModelStep(profile, { task: model as TaskName, modules, config, devices, batch, lr, backend: typeof flags.backend === 'string' ? flags.backend : undefined });
    profile.expertTflops = step.expertTflops;
    profile.expertCallMs = Math.round(step.expertCallMs * 1e4) / 1e4;
    profile.expertHeldMs = Math.round(step.expertHeldMs * 1e4) / 1e4;
    profile.unmodelledMs = Math.round(step.unmodelledMs * 1e4) / 1e4;
  }
  process.stdout.write(`${JSON.stringify(profile, null, 2)}\n`);
}
