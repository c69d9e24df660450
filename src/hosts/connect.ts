/**
 * Opening a NATS connection the way every flexmoe process does: credentials from natsCredentials,
 * reconnecting without end (a restarted server is waited for; host heartbeats decide when a peer
 * is gone), and errors that say what failed without the secrets.
 */
import { connect, type NatsConnection } from 'nats';
import { errors } from '../errors.js';
import { redact, type NatsCredentials } from './credentials.js';

export interface NatsConnectOptions {
  /** A name the server shows for this connection (e.g. `flexmoe-host h1`). */
  name: string;
  credentials?: NatsCredentials;
  /** Milliseconds between reconnect attempts (default 100). */
  reconnectWaitMs?: number;
  /** How long the first connection may take (default 5 s). */
  timeoutMs?: number;
}

export async function connectNats(url: string, o: NatsConnectOptions): Promise<NatsConnection> {
  const c = o.credentials ?? {};
  try {
    return await connect({
      servers: url,
      name: o.name,
      user: c.user,
      pass: c.password,
      token: c.token,
      maxReconnectAttempts: -1,
      reconnectTimeWait: o.reconnectWaitMs ?? 100,
      timeout: o.timeoutMs ?? 5000,
    });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'AUTHORIZATION_VIOLATION' ? 'the server refused the credentials (authorization violation)' : code === 'CONNECTION_REFUSED' ? 'connection refused' : redact((e as Error).message, c);
    throw errors.badArgument('nats', `cannot connect to ${redact(url, c)}: ${why}`);
  }
}
