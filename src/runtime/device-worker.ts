/**
 * The device thread: hosts actors, runs their mailboxes, drains its channels. Started by
 * `Device` (device.ts) with `workerData`; speaks the control protocol of messages.ts.
 */
import { parentPort } from 'node:worker_threads';
import { actorClass, type Actor, type ActorContext, type ActorRef } from './actor.js';
import { DeviceChannels } from './channels.js';
import { importUserModule } from './modules.js';
import { Collectives } from './collectives.js';
import { SharedReduce, type ReduceShared } from './shared-reduce.js';
import { Mailroom } from './mail.js';
import { arrayTensor, decode, envelope, joinState, packState, splitState, unpackState, type Envelope } from './codec.js';
import type { Tensor } from '../tensor/tensor.js';
import type { DeviceStats, FromDevice, ToDevice } from './messages.js';

interface Hosted {
  ref: ActorRef;
  className: string;
  actor: Actor;
  /** The mailbox: each message chains onto the previous one, so an actor sees one message at a time, in order. */
  queue: Promise<void>;
  /** Shipped to another device by a migration: no more local calls (it is stopped once the move lands). */
  leaving?: boolean;
}

const port = parentPort!;
const actors = new Map<string, Hosted>();
let device = -1;
let devices = 0;
let channels: DeviceChannels;
let collectives: Collectives;
let mailroom: Mailroom;
let busyMs = 0;
/** Hosts: how links to devices on other hosts are opened, the connection they share, and every device's rebuild count. */
let linkSetup: { links: NonNullable<Extract<ToDevice, { type: 'init' }>['links']>; nc: import('nats').NatsConnection; epochs: number[] } | null = null;
let nextAsk = 1;
const asks = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; withShared?: boolean }>();

function post(message: FromDevice, shared?: SharedArrayBuffer[]): void {
  flushEvents(); // events emitted before this message reach the main thread before it
  const { env, transfer } = envelope(message, shared);
  port.postMessage(env, transfer);
}

/**
 * Actors' events wait for the next microtask checkpoint and go to the main thread together: each
 * message wakes that thread, which on a machine with no spare core takes its time from a device.
 */
let pendingEvents: { actor: ActorRef; data: unknown }[] = [];
function emitEvent(actor: ActorRef, data: unknown): void {
  if (pendingEvents.length === 0) queueMicrotask(flushEvents);
  pendingEvents.push({ actor, data });
}
function flushEvents(): void {
  if (pendingEvents.length === 0) return;
  const events = pendingEvents;
  pendingEvents = [];
  const { env, transfer } = envelope(events.length === 1 ? { type: 'event', ...events[0]! } : { type: 'events', events });
  port.postMessage(env, transfer);
}

function reply(req: number, run: () => unknown | Promise<unknown>): void {
  Promise.resolve()
    .then(run)
    .then(
      (value) => post({ type: 'reply', req, ok: true, value }),
      (e: Error) => post({ type: 'reply', req, ok: false, error: e?.message ?? String(e) }),
    );
}

/** A request to the main thread answered like an ask (`ask-reply`); SharedArrayBuffers go beside it and come back in `shared`. */
function request<T>(build: (req: number) => FromDevice, shared?: SharedArrayBuffer[], withShared = false): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = nextAsk++;
    asks.set(req, { resolve: resolve as (v: unknown) => void, reject, withShared });
    post(build(req), shared);
  });
}

function contextFor(ref: ActorRef): ActorContext {
  return {
    self: ref,
    device,
    devices,
    tell: (target, message) => mailroom.tell(target, message),
    ask: (target, message, timeoutMs = 10_000) => mailroom.ask(target, message, timeoutMs),
    send: (peer, tag, tensor) => channels.send(peer, tag, tensor),
    recv: (peer, tag) => channels.recv(peer, tag),
    collectives,
    emit: (data) => emitEvent(ref, data),
    stash: (key, buffer, meta) => request<void>((req) => ({ type: 'stash', req, actor: ref.id, key, meta }), [buffer]),
    unstash: async <M>(key: string, actorId = ref.id) => {
      const got = await request<{ value: { found: boolean; meta: M }; shared?: SharedArrayBuffer[] }>((req) => ({ type: 'unstash', req, actor: actorId, key }), undefined, true);
      return got.value.found && got.shared?.[0] ? { buffer: got.shared[0], meta: got.value.meta } : undefined;
    },
    spawn: (className, args, device) => request((req) => ({ type: 'place', req, request: { op: 'spawn', className, args, device } })),
    clone: (target, device) => request((req) => ({ type: 'place', req, request: { op: 'clone', target, device } })),
    migrate: (target, device) => request((req) => ({ type: 'place', req, request: { op: 'migrate', target, device } })),
    stop: (target) => request((req) => ({ type: 'place', req, request: { op: 'stop', target } })),
    local: <T extends Actor>(target: ActorRef) => {
      const h = actors.get(target.id);
      return h && !h.leaving && h.ref.incarnation === target.incarnation ? (h.actor as T) : undefined;
    },
  };
}

async function host(ref: ActorRef, className: string, actor: Actor): Promise<void> {
  const h: Hosted = { ref, className, actor, queue: Promise.resolve() };
  actors.set(ref.id, h);
  await actor.started(contextFor(ref));
}

/** Runs `fn` after everything already in the actor's mailbox. */
function enqueue<T>(id: string, fn: (h: Hosted) => T | Promise<T>): Promise<T> {
  const h = actors.get(id);
  if (!h) return Promise.reject(new Error(`no actor ${id} on device ${device}`));
  const run = h.queue.then(() => fn(h));
  h.queue = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
}

/**
 * Hands `payload` to actor `id`'s mailbox (from the main thread, a peer device or an actor here);
 * `answer` gets the handler's result for an ask. A tell whose handler fails is reported as an event.
 */
function deliver(id: string, payload: unknown, answer?: (ok: boolean, value?: unknown, error?: string) => void): void {
  const work = enqueue(id, async (h) => {
    const t0 = performance.now();
    try {
      return await h.actor.receive(payload, contextFor(h.ref));
    } finally {
      busyMs += performance.now() - t0;
    }
  });
  if (answer) work.then((v) => answer(true, v), (e: Error) => answer(false, undefined, e?.message ?? String(e)));
  else work.catch((e: Error) => post({ type: 'event', actor: actors.get(id)?.ref ?? { id, device, incarnation: 0 }, data: { error: e.message } }));
}

async function handle(m: ToDevice, shared: SharedArrayBuffer[] | undefined, reduce?: ReduceShared): Promise<void> {
  switch (m.type) {
    case 'init': {
      device = m.device;
      devices = m.devices;
      channels = new DeviceChannels(device);
      // A service device (index past the compute devices) takes no part in collectives.
      const hostOf = m.hostOf;
      const sameHost = (d: number) => !hostOf || hostOf[d] === hostOf[device];
      collectives = new Collectives(channels, device, devices, reduce && devices > 1 && device < devices ? new SharedReduce(reduce, device, devices) : undefined, (g) => g.every(sameHost));
      mailroom = new Mailroom(device, channels, deliver);
      const peers = [...Array(m.threads).keys()].filter((d) => d !== device);
      connectRings(shared ?? [], peers.filter(sameHost));
      const remote = peers.filter((d) => !sameHost(d));
      if (remote.length) {
        if (!m.links) {
          post({ type: 'init-failed', device, error: `devices ${remote.join(', ')} are on other hosts, and no NATS link was given` });
          return;
        }
        try {
          await connectLinks(m.links, remote, m.linkEpochs ?? new Array<number>(m.threads).fill(0));
        } catch (e) {
          post({ type: 'init-failed', device, error: (e as Error).message });
          return;
        }
      }
      try {
        for (const mod of m.modules) await importUserModule(mod);
      } catch (e) {
        // Named at once to whoever starts the device, instead of a device that never comes up.
        post({ type: 'init-failed', device, error: (e as Error).message });
        return;
      }
      post({ type: 'ready', device });
      return;
    }
    case 'spawn':
      return reply(m.req, async () => {
        const cls = actorClass(m.className);
        await host(m.ref, m.className, new cls(m.args));
        return m.ref;
      });
    case 'restore':
      return reply(m.req, async () => {
        await host(m.ref, m.className, actorClass(m.className).restore(m.snapshot));
        return m.ref;
      });
    case 'deliver': {
      const req = m.req;
      if (req === undefined) return deliver(m.ref.id, m.payload);
      return deliver(m.ref.id, m.payload, (ok, value, error) => post({ type: 'reply', req, ok, value, error }));
    }
    case 'directory':
      return reply(m.req, () => {
        mailroom.apply(m.ops, m.version);
        // Collectives waiting on a device that died fail at once, whether or not it comes back.
        for (const op of m.ops) if (op.op === 'down') (channels.peerDown(op.device), collectives.peerRestarted(op.device));
      });
    case 'snapshot':
      return reply(m.req, () => enqueue(m.id, (h) => h.actor.snapshot()));
    case 'ship':
      return reply(m.req, async () => {
        // Whatever peers sent the actor before they held its messages is in its mailbox first.
        if (m.move !== undefined) await mailroom.marksFrom(m.move, m.marks ?? 0);
        return enqueue(m.id, async (h) => {
          if (m.leaving) h.leaving = true;
          // The skeleton first, then each large array as a tensor of its own, on one (peer, tag) FIFO.
          const { skeleton, arrays } = splitState(h.actor.snapshot());
          const head = packState({ skeleton, count: arrays.length });
          await Promise.all([channels.send(m.to, m.tag, head), ...arrays.map((a) => channels.send(m.to, m.tag, arrayTensor(a)))]);
          return head.data.byteLength + arrays.reduce((n, a) => n + a.byteLength, 0);
        });
      });
    case 'adopt':
      return reply(m.req, async () => {
        const head = await channels.recv(m.from, m.tag);
        const { skeleton, count } = unpackState<{ skeleton: unknown; count: number }>(head, `state of ${m.className}#${m.ref.id} from device ${m.from}`);
        channels.recycle(head);
        const arrays: Tensor[] = [];
        for (let i = 0; i < count; i++) arrays.push(await channels.recv(m.from, m.tag));
        // The arrays stay the restored actor's (not recycled): they may become its state as they are.
        await host(m.ref, m.className, actorClass(m.className).restore(joinState(skeleton, arrays.map((t) => t.data))));
        return m.ref;
      });
    case 'reset-collectives':
      return reply(m.req, () => collectives.reset());
    case 'stay':
      return reply(m.req, () => enqueue(m.id, (h) => void (h.leaving = false)));
    case 'stop':
      return reply(m.req, () => enqueue(m.id, () => void actors.delete(m.id)));
    case 'stats':
      return reply(m.req, (): DeviceStats => {
        // In a worker thread these are the thread's own isolate's figures (rss is the process's).
        const mem = process.memoryUsage();
        return { device, busyMs, actors: actors.size, mail: { sent: mailroom.sent, received: mailroom.received }, directoryVersion: mailroom.version, channels: channels.stats(), heapUsedBytes: mem.heapUsed, arrayBufferBytes: mem.arrayBuffers };
      });
    case 'ask-reply': {
      const a = asks.get(m.req);
      asks.delete(m.req);
      if (m.ok) a?.resolve(a.withShared ? { value: m.value, shared } : m.value);
      else a?.reject(new Error(m.error));
      return;
    }
    case 'crash':
      // Test hook for supervision: fail the way real devices fail.
      if (m.how === 'exit') process.exit(3);
      if (m.how === 'oom') {
        // Heap objects (not ArrayBuffers, which live outside the V8 heap limit).
        const hog: number[][] = [];
        for (;;) hog.push(new Array(1 << 20).fill(hog.length + 0.5));
      }
      setTimeout(() => {
        throw new Error('injected device failure');
      });
      return;
  }
}

/** Channels to devices on other hosts: one NATS connection for this device, a link each way per peer. */
async function connectLinks(links: NonNullable<Extract<ToDevice, { type: 'init' }>['links']>, peers: number[], epochs: number[]): Promise<void> {
  const { connectNats } = await import('../hosts/connect.js');
  const nc = await connectNats(links.url, { name: `flexmoe device ${device}`, credentials: links.credentials });
  linkSetup = { links, nc, epochs: [...epochs] };
  await openLinks(peers);
}

/**
 * A link each way to each of `peers`, replacing any before it. The subjects carry both ends'
 * rebuild counts: frames a peer's old incarnation sent, or this device's old self was sent, are
 * never read by the new ends.
 */
async function openLinks(peers: number[]): Promise<void> {
  const { NatsFrameReader, NatsFrameWriter } = await import('../hosts/nats-link.js');
  const { links, nc, epochs } = linkSetup!;
  for (const peer of peers) {
    const [lo, hi] = device < peer ? [device, peer] : [peer, device];
    const o = { prefix: `${links.prefix}.link.${epochs[lo] ?? 0}.${epochs[hi] ?? 0}`, from: device, to: peer };
    channels.connectLink(peer, new NatsFrameWriter(nc, o), new NatsFrameReader(nc, { ...o, from: peer, to: device }));
  }
  // Subscriptions are in place at the server before the device says it is ready.
  await nc.flush();
}

/** `shared` holds [out to each peer..., in from each peer...] in `peers` order. */
function connectRings(shared: SharedArrayBuffer[], peers: number[]): void {
  peers.forEach((peer, i) => channels.connect(peer, shared[i]!, shared[peers.length + i]!));
}

port.on('message', (env: Envelope) => {
  const m = decode<ToDevice>(env.bytes);
  if (m.type === 'rings') {
    for (const p of m.peers) collectives.peerRestarted(p);
    return connectRings(env.shared ?? [], m.peers);
  }
  if (m.type === 'relink') {
    if (!linkSetup) return;
    linkSetup.epochs[m.peer] = m.epoch;
    collectives.peerRestarted(m.peer);
    void openLinks([m.peer]).catch((e: Error) => post({ type: 'event', actor: { id: '-', device, incarnation: 0 }, data: { error: `relink to device ${m.peer}: ${e.message}` } }));
    return;
  }
  void handle(m, env.shared, env.reduce).catch((e: Error) => post({ type: 'event', actor: { id: '-', device, incarnation: 0 }, data: { error: e.message } }));
});
