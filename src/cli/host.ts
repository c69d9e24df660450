import { errors } from '../errors.js';
import { natsCredentials } from '../hosts/credentials.js';
import { Host } from '../hosts/host.js';
import { intFlag, type Flags } from './args.js';

export const hostHelp = `flexmoe host --nats URL [--devices N] [--id NAME] [--nats-creds FILE]
  Offers N device threads (default 1) to a coordinator on another machine (or this one):
  \`flexmoe train --nats URL --hosts H\` finds the hosts on that NATS server, claims them, and trains
  on their devices as on its own. One coordinator at a time; the host is free again when its
  coordinator releases it or stops beating. Runs until interrupted. Credentials come from
  FLEXMOE_NATS_USER and FLEXMOE_NATS_PASSWORD, or FLEXMOE_NATS_TOKEN, or --nats-creds FILE (JSON).`;

export async function hostCommand(flags: Flags): Promise<void> {
  if (typeof flags.nats !== 'string') throw errors.badArgument('host', '--nats URL is required (the NATS server the coordinator uses)');
  const devices = intFlag(flags, 'devices', 1, 1, 64);
  const credentials = natsCredentials(typeof flags['nats-creds'] === 'string' ? flags['nats-creds'] : undefined);
  const host = await Host.start({ nats: flags.nats, devices, id: typeof flags.id === 'string' ? flags.id : undefined, credentials, log: (line) => process.stderr.write(`flexmoe host: ${line}\n`) });
  await new Promise<void>((resolve) => {
    const stop = () => void host.stop().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
