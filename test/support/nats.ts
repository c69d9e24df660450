import type { NatsConnection } from 'nats';
import { startBroker, type Broker, type BrokerOptions } from '../../src/hosts/broker.js';
import { connectNats } from '../../src/hosts/connect.js';

/** Whether Debian's nats-server is installed here (.ci/run installs it; the NATS tests need it). */
export async function haveNatsServer(): Promise<boolean> {
  try {
    const b = await startBroker();
    await b.stop();
    return true;
  } catch {
    return false;
  }
}

/** A broker on a free loopback port and `n` connections to it; `after` hooks call close. */
export async function natsFixture(n: number, opts: BrokerOptions = {}): Promise<{ broker: Broker; conns: NatsConnection[]; close(): Promise<void> }> {
  const broker = await startBroker(opts);
  const credentials = opts.token ? { token: opts.token } : opts.user ? { user: opts.user, password: opts.password } : {};
  const conns = await Promise.all(Array.from({ length: n }, (_, i) => connectNats(broker.url, { name: `test ${i}`, credentials })));
  return {
    broker,
    conns,
    close: async () => {
      await Promise.all(conns.map((c) => c.close()));
      await broker.stop();
    },
  };
}
