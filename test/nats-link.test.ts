import assert from 'node:assert/strict';
import type { NatsConnection } from 'nats';
import { NatsFrameReader, NatsFrameWriter, type LinkOptions } from '../src/hosts/nats-link.js';
import { DeviceChannels } from '../src/runtime/channels.js';
import { Tensor } from '../src/tensor/tensor.js';
import type { Broker } from '../src/hosts/broker.js';
import { haveNatsServer, natsFixture } from './support/nats.js';

/** Two devices' channels joined by NATS links, each end on its own connection; subscriptions in place at the server. */
async function join(a: NatsConnection, b: NatsConnection, o: Partial<LinkOptions> = {}) {
  const prefix = `t${Math.random().toString(36).slice(2, 8)}`;
  const c0 = new DeviceChannels(0), c1 = new DeviceChannels(1);
  const w01 = new NatsFrameWriter(a, { prefix, from: 0, to: 1, ...o }), r01 = new NatsFrameReader(b, { prefix, from: 0, to: 1, ...o });
  const w10 = new NatsFrameWriter(b, { prefix, from: 1, to: 0, ...o }), r10 = new NatsFrameReader(a, { prefix, from: 1, to: 0, ...o });
  c0.connectLink(1, w01, r10);
  c1.connectLink(0, w10, r01);
  const close = () => {
    for (const end of [c0, c1, w01, w10, r01, r10]) end.close();
  };
  await Promise.all([a.flush(), b.flush()]);
  return { c0, c1, w01, r01, close };
}

const ramp = (n: number, k: number) => Tensor.from(Array.from({ length: n }, (_, i) => (i * 7 + k) % 1000));

describe('frames between hosts over NATS', function () {
  this.timeout(60_000);
  let broker: Broker;
  let conns: NatsConnection[];
  let close: () => Promise<void>;
  before(async function () {
    if (!(await haveNatsServer())) return this.skip(); // .ci/run installs Debian's nats-server
    ({ broker, conns, close } = await natsFixture(2));
  });
  after(() => close?.());

  it('tensors arrive whole and in order: small ones, and one larger than the server\'s max payload (chunked)', async () => {
    const link = await join(conns[0]!, conns[1]!);
    try {
      const big = ramp(1_000_000, 3); // 4 MB: several frames at the 1 MiB limit
      const sends = [...Array.from({ length: 200 }, (_, k) => link.c0.send(1, 5, ramp(17, k))), link.c0.send(1, 6, big)];
      for (let k = 0; k < 200; k++) assert.deepEqual(Array.from((await link.c1.recv(0, 5)).data), Array.from(ramp(17, k).data), `tensor ${k}`);
      const got = await link.c1.recv(0, 6);
      assert.deepEqual(got.shape, [1_000_000]);
      assert.ok(got.data.every((v, i) => v === big.data[i]), 'the chunked tensor arrived bit for bit');
      await Promise.all(sends);
      assert.ok(link.w01.maxPayload < 1 << 20, 'frames are bounded by the server\'s max payload');
    } finally {
      link.close();
    }
  });

  it('a lost frame is sent again and the stream stays in order; a corrupt one is refused and sent again', async () => {
    const link = await join(conns[0]!, conns[1]!, { resendAfterMs: 100 });
    const nc = conns[0]!;
    const publish = nc.publish.bind(nc);
    let n = 0;
    // Drop the 5th frame on its first trip, corrupt the 9th's payload on its first trip, and drop the last one.
    (nc as { publish: NatsConnection['publish'] }).publish = (subject, data) => {
      if (subject.includes('.f.')) {
        n++;
        if (n === 5 || n === 30) return;
        if (n === 9) {
          const bad = (data as Uint8Array).slice();
          bad[bad.length - 1]! ^= 0xff;
          return publish(subject, bad);
        }
      }
      return publish(subject, data);
    };
    try {
      for (let k = 0; k < 30; k++) void link.c0.send(1, 7, ramp(9, k));
      for (let k = 0; k < 30; k++) assert.deepEqual(Array.from((await link.c1.recv(0, 7)).data), Array.from(ramp(9, k).data), `tensor ${k}`);
      assert.ok(link.w01.resent >= 2, `frames were sent again (${link.w01.resent})`);
      assert.equal(link.r01.corrupt, 1, 'the corrupt frame was refused');
    } finally {
      (nc as { publish: NatsConnection['publish'] }).publish = publish;
      link.close();
    }
  });

  it('a frame that never comes fails the reader with a named error, not a silent gap', async () => {
    const link = await join(conns[0]!, conns[1]!, { lostAfterMs: 300, resendAfterMs: 60_000 });
    const nc = conns[0]!;
    const publish = nc.publish.bind(nc);
    let n = 0;
    (nc as { publish: NatsConnection['publish'] }).publish = (subject, data) => (subject.includes('.f.') && ++n === 2 ? undefined : publish(subject, data));
    link.w01.resendFrom = () => undefined; // this writer cannot send it again
    try {
      for (let k = 0; k < 3; k++) void link.c0.send(1, 8, ramp(4, k)).catch(() => undefined);
      assert.deepEqual(Array.from((await link.c1.recv(0, 8)).data), Array.from(ramp(4, 0).data));
      await assert.rejects(link.c1.recv(0, 8), /channel 0->1 \(NATS\).*lost: frame 1 never came/);
    } finally {
      (nc as { publish: NatsConnection['publish'] }).publish = publish;
      link.close();
    }
  });

  it('the server restarted mid-stream: both ends reconnect and every tensor arrives once, in order', async () => {
    const link = await join(conns[0]!, conns[1]!, { resendAfterMs: 200 });
    try {
      const total = 60;
      const got: number[] = [];
      const reading = (async () => {
        for (let k = 0; k < total; k++) got.push((await link.c1.recv(0, 9)).data[0]!);
      })();
      for (let k = 0; k < total; k++) {
        if (k === 20) await broker.restart();
        await link.c0.send(1, 9, Tensor.from([k, k, k]));
      }
      await reading;
      assert.deepEqual(got, [...Array(total).keys()]);
    } finally {
      link.close();
    }
  });
});
