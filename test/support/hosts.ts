import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** A `flexmoe host` process; resolves once it says it offers its devices. `kill` ends it (SIGKILL: a crashed machine). */
export async function startHostProcess(url: string, id: string, devices = 1, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; log: () => string; kill: (signal?: NodeJS.Signals) => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'host', '--nats', url, '--devices', String(devices), '--id', id], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      log += d;
      if (log.includes('offers')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`host ${id} exited with code ${code}: ${log}`)));
  });
  return {
    child,
    log: () => log,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
