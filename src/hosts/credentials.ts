/**
 * NATS credentials: a user and password, or a token, from the environment (FLEXMOE_NATS_USER and
 * FLEXMOE_NATS_PASSWORD, or FLEXMOE_NATS_TOKEN) or from a JSON config file ({"user", "password"} or
 * {"token"}). They are passed to the client and nowhere else: `redact` takes them out of any text
 * (an error, a URL) before it is logged or put in an event.
 */
import { readFileSync } from 'node:fs';
import { errors } from '../errors.js';

export interface NatsCredentials {
  user?: string;
  password?: string;
  token?: string;
}

/** Credentials from `file` when given, else from the environment; empty when neither has any. */
export function natsCredentials(file?: string, env: NodeJS.ProcessEnv = process.env): NatsCredentials {
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw errors.badArgument('nats credentials', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'not JSON'}`);
    }
    const c = parsed as Record<string, unknown>;
    const known = ['user', 'password', 'token'];
    const bad = Object.keys(c ?? {}).filter((k) => !known.includes(k));
    if (typeof c !== 'object' || c === null || bad.length || Object.values(c).some((v) => typeof v !== 'string')) {
      throw errors.badArgument('nats credentials', `${file} must be a JSON object of strings with "user" and "password", or "token"${bad.length ? ` (unknown: ${bad.join(', ')})` : ''}`);
    }
    return check({ user: c.user as string | undefined, password: c.password as string | undefined, token: c.token as string | undefined }, file);
  }
  return check({ user: env.FLEXMOE_NATS_USER, password: env.FLEXMOE_NATS_PASSWORD, token: env.FLEXMOE_NATS_TOKEN }, 'the environment');
}

function check(c: NatsCredentials, where: string): NatsCredentials {
  if (c.token !== undefined && c.user !== undefined) throw errors.badArgument('nats credentials', `${where} gives both a token and a user; give one`);
  if ((c.user === undefined) !== (c.password === undefined)) throw errors.badArgument('nats credentials', `${where} gives a user without a password, or a password without a user`);
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as NatsCredentials;
}

/** `text` with every secret of `c`, and any credentials written into a URL, replaced by ***. */
export function redact(text: string, c: NatsCredentials): string {
  let out = text.replace(/(nats|tls|ws|wss):\/\/[^@/\s]*@/g, '$1://***@');
  for (const secret of [c.password, c.token]) if (secret) out = out.split(secret).join('***');
  return out;
}
