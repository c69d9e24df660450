import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../src/hosts/broker.js';
import { connectNats } from '../src/hosts/connect.js';
import { natsCredentials, redact } from '../src/hosts/credentials.js';
import { haveNatsServer } from './support/nats.js';

describe('NATS credentials', function () {
  this.timeout(30_000);

  it('come from the environment or a JSON file; mixed or half-given ones are named errors', () => {
    assert.deepEqual(natsCredentials(undefined, { FLEXMOE_NATS_USER: 'u', FLEXMOE_NATS_PASSWORD: 'p' }), { user: 'u', password: 'p' });
    assert.deepEqual(natsCredentials(undefined, { FLEXMOE_NATS_TOKEN: 't' }), { token: 't' });
    assert.deepEqual(natsCredentials(undefined, {}), {});
    assert.throws(() => natsCredentials(undefined, { FLEXMOE_NATS_USER: 'u' }), /the environment gives a user without a password/);
    assert.throws(() => natsCredentials(undefined, { FLEXMOE_NATS_USER: 'u', FLEXMOE_NATS_PASSWORD: 'p', FLEXMOE_NATS_TOKEN: 't' }), /both a token and a user/);
    const dir = mkdtempSync(join(tmpdir(), 'flexmoe-creds-'));
    writeFileSync(join(dir, 'ok.json'), JSON.stringify({ user: 'a', password: 'b' }));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ user: 'a', passwd: 'b' }));
    assert.deepEqual(natsCredentials(join(dir, 'ok.json')), { user: 'a', password: 'b' });
    assert.throws(() => natsCredentials(join(dir, 'bad.json')), /unknown: passwd/);
    assert.throws(() => natsCredentials(join(dir, 'none.json')), /cannot read .*none.json: ENOENT/);
  });

  it('redact takes secrets out of text and URLs', () => {
    assert.equal(redact('nats://bob:s3cret@host:4222 said s3cret', { user: 'bob', password: 's3cret' }), 'nats://***@host:4222 said ***');
  });

  it('a server that requires them: wrong ones give a clear error without the secret; right ones connect', async function () {
    if (!(await haveNatsServer())) return this.skip();
    const broker = await startBroker({ user: 'flexmoe', password: 'hunter2-secret' });
    try {
      await assert.rejects(connectNats(broker.url, { name: 't', credentials: { user: 'flexmoe', password: 'wrong-secret' } }), (e: Error) => {
        assert.match(e.message, /cannot connect to nats:\/\/127.0.0.1:\d+: the server refused the credentials/);
        assert.doesNotMatch(e.message, /wrong-secret|hunter2/);
        return true;
      });
      await assert.rejects(connectNats(broker.url, { name: 't' }), /refused the credentials/);
      const nc = await connectNats(broker.url, { name: 't', credentials: { user: 'flexmoe', password: 'hunter2-secret' } });
      await nc.close();
    } finally {
      await broker.stop();
    }
  });
});
