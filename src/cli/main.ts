import { readFileSync } from 'node:fs';
import { FlexMoEError, errors } from '../errors.js';
import { modelFlagNames, nearest, parseCommand, type FlagSpec, type Flags } from './args.js';
import { train, trainHelp } from './train.js';
import { simulateCommand, simulateHelp } from './simulate.js';
import { calibrateCommand, calibrateHelp } from './calibrate.js';
import { notebookCommand, notebookHelp } from './notebook.js';
import { compareCommand, compareHelp } from './compare.js';
import { hostCommand, hostHelp } from './host.js';

interface Command {
  run: (flags: Flags, positional: string[]) => Promise<void>;
  help: string;
  flags: FlagSpec;
  /** Positional arguments it takes (notebook: the file). */
  positionals?: number;
}

const commands: Record<string, Command> = {
  train: {
    run: train, help: trainHelp,
    flags: { values: [...modelFlagNames, 'steps', 'devices', 'policy', 'slots', 'checkpoint', 'checkpoint-every', 'snapshot-every', 'resume', 'record-trace', 'profile', 'backend', 'sample', 'nats', 'hosts', 'nats-creds'], switches: ['json'] },
  },
  simulate: {
    run: simulateCommand, help: simulateHelp,
    flags: { values: ['trace', 'workload', 'experts', 'topk', 'steps', 'tokens', 'seed', 'devices', 'slots', 'policies', 'profile', 'module', 'threads'], switches: ['json'] },
  },
  compare: {
    run: compareCommand, help: compareHelp,
    flags: { values: [...modelFlagNames, 'devices', 'policies', 'steps', 'warm', 'rounds', 'slots', 'backend'], switches: ['json', 'predict'] },
  },
  calibrate: { run: calibrateCommand, help: calibrateHelp, flags: { values: [...modelFlagNames, 'devices', 'backend', 'nats', 'hosts', 'nats-creds'] } },
  notebook: { run: notebookCommand, help: notebookHelp, flags: { values: ['render', 'ipynb'], switches: ['run-all'] }, positionals: 1 },
  host: { run: hostCommand, help: hostHelp, flags: { values: ['nats', 'devices', 'id', 'nats-creds'] } },
};

const usage = `usage: flexmoe <command> [options]   (flexmoe <command> --help for one command; flexmoe --version)\n\ncommands:\n${Object.values(commands).map((c) => `  ${c.help}`).join('\n\n')}\n`;

/** FlexMoEError codes that mean the user asked for something wrong (exit 2); anything else failed while working (exit 1). */
const userErrors = new Set(['E_ARG', 'E_RANGE', 'E_MODULE', 'E_CHECKPOINT', 'E_SHAPE', 'E_BACKEND', 'E_CLI']);

function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url.replace('/dist/src/', '/src/')), 'utf8')) as { version: string }).version;
}

/** The `flexmoe` command line. Returns the exit code: 0 done, 2 a user error, 1 a failure while working. */
export async function main(argv: readonly string[]): Promise<number> {
  const name = argv[0] && !argv[0].startsWith('-') ? argv[0] : undefined;
  try {
    if (!name) {
      if (argv.includes('--version')) return void process.stdout.write(`flexmoe ${version()}\n`), 0;
      process.stdout.write(usage);
      return argv.includes('--help') ? 0 : 2;
    }
    const command = commands[name];
    if (!command) throw errors.unknownCommand(name, Object.keys(commands), nearest(name, Object.keys(commands)));
    const { positional, flags } = parseCommand(name, argv.slice(1), command.flags);
    if (flags.help === true) return void process.stdout.write(`usage: ${command.help}\n`), 0;
    if (positional.length > (command.positionals ?? 0)) throw errors.badArgument(name, `unexpected argument "${positional[command.positionals ?? 0]}" (flags start with --)`);
    await command.run(flags, positional);
    return 0;
  } catch (e) {
    if (e instanceof FlexMoEError) {
      process.stderr.write(`flexmoe: ${e.message}\n`);
      return userErrors.has(e.code) ? 2 : 1;
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/cli/main.ts') || process.argv[1]?.endsWith('/cli/main.js')) {
  process.exitCode = await main(process.argv.slice(2));
}
