import { FlexMoEError, errors } from '../errors.js';
import { parseArgs, type Flags } from './args.js';
import { train, trainHelp } from './train.js';
import { simulateCommand, simulateHelp } from './simulate.js';
import { calibrateCommand, calibrateHelp } from './calibrate.js';
import { notebookCommand, notebookHelp } from './notebook.js';
import { compareCommand, compareHelp } from './compare.js';

const commands: Record<string, { run: (flags: Flags, positional: string[]) => Promise<void>; help: string }> = {
  train: { run: train, help: trainHelp },
  simulate: { run: simulateCommand, help: simulateHelp },
  compare: { run: compareCommand, help: compareHelp },
  calibrate: { run: calibrateCommand, help: calibrateHelp },
  notebook: { run: notebookCommand, help: notebookHelp },
};

const usage = `usage: flexmoe <command> [options]\n\ncommands:\n${Object.values(commands).map((c) => `  ${c.help}`).join('\n\n')}\n`;

/** The `flexmoe` command line. Returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const { positional, flags } = parseArgs(argv);
  const [name, ...rest] = positional;
  if (!name || flags.help === true) {
    process.stdout.write(usage);
    return name || flags.help ? 0 : 2;
  }
  try {
    const command = commands[name];
    if (!command) throw errors.unknownCommand(name, Object.keys(commands));
    await command.run(flags, rest);
    return 0;
  } catch (e) {
    if (e instanceof FlexMoEError) {
      process.stderr.write(`flexmoe: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/cli/main.ts') || process.argv[1]?.endsWith('/cli/main.js')) {
  process.exitCode = await main(process.argv.slice(2));
}
