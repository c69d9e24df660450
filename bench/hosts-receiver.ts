// The receiving end of bench/hosts.ts, on a thread of its own: counts bytes arriving over a NATS
// link (frames checked and acknowledged as the channels do) or over a raw TCP socket.
import { createServer } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { connectNats } from '../src/hosts/connect.js';
import { NatsFrameReader } from '../src/hosts/nats-link.js';

const { url, prefix } = workerData as { url: string; prefix: string };
const nc = await connectNats(url, { name: 'bench receiver' });
const reader = new NatsFrameReader(nc, { prefix, from: 0, to: 1 });
const server = createServer((sock) => {
  let want = 0, got = 0;
  sock.on('data', (b) => {
    if (!want) {
      want = b.readDoubleLE(0);
      b = b.subarray(8);
    }
    got += b.length;
    if (got >= want) parentPort!.postMessage({ done: 'tcp', bytes: got });
  });
});
server.listen(0, '127.0.0.1', () => parentPort!.postMessage({ port: (server.address() as { port: number }).port }));
// Plain NATS messages, no link protocol: the client and server's own ceiling.
let rawWant = 0, rawGot = 0;
nc.subscribe(`${prefix}.raw`, { callback: (_e, m) => {
  rawGot += m.data.byteLength;
  if (rawWant && rawGot >= rawWant) {
    parentPort!.postMessage({ done: 'raw', bytes: rawGot });
    rawWant = rawGot = 0;
  }
} });
await nc.flush();
parentPort!.on('message', async (m: { nats?: number; stop?: boolean }) => {
  if (m.stop) {
    reader.close();
    server.close();
    await nc.close();
    process.exit(0);
  }
  if ((m as { raw?: number }).raw) return void (rawWant = (m as { raw: number }).raw);
  let got = 0;
  while (got < m.nats!) {
    const f = (await reader.read())!;
    got += f.bytes.byteLength;
    reader.release(f);
  }
  parentPort!.postMessage({ done: 'nats', bytes: got });
});
parentPort!.postMessage({ ready: true });
