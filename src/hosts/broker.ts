/**
 * A nats-server of our own on a loopback port: what the tests, the benchmark and a one-machine
 * trial run against. Debian's `nats-server` package provides the binary; a real deployment runs
 * its own server or cluster and passes its URL (docs/hosts.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { errors } from '../errors.js';

export interface BrokerOptions {
  /** A user and password the server requires (absent: no authentication). */
  user?: string;
  password?: string;
  /** A token the server requires instead. */
  token?: string;
  /** Port to listen on (default: a free one). */
  port?: number;
  /** The server binary (default `nats-server` on the PATH, then /usr/sbin/nats-server). */
  binary?: string;
}

export interface Broker {
  /** nats://127.0.0.1:PORT (no credentials in it). */
  url: string;
  port: number;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same port (a server restart mid-run). */
  restart(): Promise<void>;
}

/** A free loopback TCP port (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on `port`, or rejects after `timeoutMs`. */
async function listening(port: number, timeoutMs: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw errors.badArgument('nats-server', `exited with code ${child.exitCode}: ${log().trim().split('\n').slice(-2).join(' ')}`);
    const ok = await new Promise<boolean>((res) => {
      const c = new Socket();
      c.once('connect', () => (c.destroy(), res(true)));
      c.once('error', () => (c.destroy(), res(false)));
      c.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (performance.now() > deadline) throw errors.badArgument('nats-server', `not listening on port ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts nats-server bound to 127.0.0.1 and waits until it accepts connections. */
export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  const port = opts.port ?? (await freePort());
  const binary = opts.binary ?? (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (opts.user !== undefined) args.push('--user', opts.user, '--pass', opts.password ?? '');
  if (opts.token !== undefined) args.push('--auth', opts.token);
  let child: ChildProcess;
  let out = '';
  const start = async () => {
    child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
    child.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => reject(errors.badArgument('nats-server', `${binary} could not start (${(e as NodeJS.ErrnoException).code ?? e.message}); install Debian's nats-server package`)));
    });
    await spawned;
    await listening(port, 10_000, child, () => out);
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  await start();
  return { url: `nats://127.0.0.1:${port}`, port, stop, restart: async () => (await stop(), await start()) };
}
