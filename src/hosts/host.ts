/**
 * A host: a process that offers device threads to one coordinator at a time over NATS
 * (`flexmoe host --nats URL --devices N`). It answers discovery, beats its heart, and when a
 * coordinator claims it, starts the device threads the claim numbers, with rings between its own
 * devices and NATS links to every other host's (the threads open those themselves, with this
 * process's credentials). It then relays the coordinator's control messages to its threads and
 * their answers back, and reports a thread that exits. A second coordinator is refused while the
 * first holds it; the claim ends when its coordinator releases it or stops beating.
 */
import type { NatsConnection, Subscription } from 'nats';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { errors } from '../errors.js';
import { decode, encode } from '../runtime/codec.js';
import { Device } from '../runtime/device.js';
import { makeReduceShared, resetReduceSignals, type ReduceShared } from '../runtime/shared-reduce.js';
import { connectNats } from './connect.js';
import { redact, type NatsCredentials } from './credentials.js';
import { ControlLink, COORDINATOR } from './control-link.js';
import { controlPrefix, coordinatorBeat, DISCOVER, exited, hostBeat, hostClaim, rebuild, release, sessionPrefix, unwrap, wrap, type Claim, type ClaimAnswer, type Exited, type HostInfo, type Rebuild } from './wire.js';

export interface HostOptions {
  /** The NATS server's URL. */
  nats: string;
  /** Device threads this host offers. */
  devices: number;
  /** Its name (default: the machine's name and a random suffix). */
  id?: string;
  credentials?: NatsCredentials;
  /** Heartbeat interval (default 250 ms); a coordinator reports the host lost after missing 4. */
  beatMs?: number;
  /** A claim ends when its coordinator has not beaten for this long (default 5 s). */
  coordinatorTimeoutMs?: number;
  /** What the host does, a line at a time (never a credential). */
  log?: (line: string) => void;
}

interface Held {
  session: string;
  prefix: string;
  devices: Device[];
  subs: Subscription[];
  links?: Map<number, ControlLink>;
  lastBeat: number;
  /** Every device's rebuild count, as the coordinator last said (the threads' links are named by them). */
  epochs: number[];
}

export class Host {
  readonly id: string;
  private held: Held | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly subs: Subscription[] = [];
  private stopped = false;

  private constructor(private readonly nc: NatsConnection, private readonly o: HostOptions) {
    this.id = o.id ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${randomBytes(3).toString('hex')}`;
  }

  static async start(o: HostOptions): Promise<Host> {
    if (!Number.isInteger(o.devices) || o.devices < 1) throw errors.badArgument('host', `devices must be a positive integer, got ${o.devices}`);
    if (o.id !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(o.id)) throw errors.badArgument('host', `--id "${o.id}": use letters, digits, - and _ (it names NATS subjects)`);
    const nc = await connectNats(o.nats, { name: `flexmoe host`, credentials: o.credentials });
    const host = new Host(nc, o);
    host.listen();
    await nc.flush();
    host.log(`host ${host.id} offers ${o.devices} device(s) on ${redact(o.nats, o.credentials ?? {})}`);
    return host;
  }

  private log(line: string): void {
    this.o.log?.(redact(line, this.o.credentials ?? {}));
  }

  get claimedBy(): string | null {
    return this.held?.session ?? null;
  }

  private info(): HostInfo {
    return { id: this.id, devices: this.o.devices, claimedBy: this.claimedBy };
  }

  private listen(): void {
    const nc = this.nc;
    this.subs.push(nc.subscribe(DISCOVER, { callback: (err, msg) => !err && msg.respond(encode(this.info())) }));
    this.subs.push(nc.subscribe(hostClaim(this.id), { callback: (err, msg) => !err && void this.claim(decode<Claim>(msg.data)).then((a) => msg.respond(encode(a))) }));
    const beat = setInterval(() => {
      if (!nc.isClosed()) nc.publish(hostBeat(this.id), encode(this.info()));
      const h = this.held;
      if (h && performance.now() - h.lastBeat > (this.o.coordinatorTimeoutMs ?? 5000)) {
        this.log(`coordinator ${h.session} stopped beating: releasing`);
        void this.release();
      }
    }, this.o.beatMs ?? 250);
    this.timers.push(beat);
  }

  private async claim(c: Claim): Promise<ClaimAnswer> {
    if (this.stopped) return { ok: false, error: `host ${this.id} is stopping` };
    if (this.held) return { ok: false, error: `host ${this.id} is held by another coordinator (session ${this.held.session})` };
    if (c.devices.length !== this.o.devices) return { ok: false, error: `host ${this.id} offers ${this.o.devices} device(s); the claim numbers ${c.devices.length}` };
    const prefix = sessionPrefix(c.session);
    const held: Held = { session: c.session, prefix, devices: [], subs: [], lastBeat: performance.now(), epochs: new Array<number>(c.threads).fill(0) };
    this.held = held;
    const nc = this.nc;
    held.subs.push(nc.subscribe(coordinatorBeat(prefix), { callback: () => void (held.lastBeat = performance.now()) }));
    held.subs.push(nc.subscribe(release(prefix), { callback: () => void (this.log(`released by ${c.session}`), this.release()) }));
    // Rings between this host's own devices; links to the rest are opened by the threads.
    const rings = new Map<string, SharedArrayBuffer>();
    const ring = (a: number, b: number, renew = false) => {
      const key = `${a}->${b}`;
      let r = rings.get(key);
      if (!r || renew) rings.set(key, (r = new SharedArrayBuffer(c.ringBytes)));
      return r;
    };
    const mine = c.hostOf[c.devices[0]!]!;
    const links = new Map<number, ControlLink>();
    held.links = links;
    const reduce = makeReduceShared(c.computeDevices, c.reduceBytes);
    try {
      for (const d of c.devices) {
        const device = new Device({
          index: d, devices: c.computeDevices, threads: c.threads, modules: c.modules,
          init: { hostOf: c.hostOf, links: { url: this.o.nats, prefix, credentials: this.o.credentials } },
          onMessage: () => undefined,
          relay: (env) => links.get(d)?.send(wrap(env)),
          linkEpochs: () => held.epochs,
          onExit: (reason) => {
            this.log(`device ${d} exited: ${reason}`);
            device.state = 'down'; // until the coordinator asks for it again (rebuild)
            if (!nc.isClosed()) nc.publish(exited(prefix, d), encode({ reason: `${reason} (host ${this.id})`, incarnation: device.incarnation } satisfies Exited));
          },
        });
        held.devices.push(device);
        links.set(d, new ControlLink(nc, controlPrefix(prefix), d, COORDINATOR, (bytes) => {
          if (device.state !== 'up') return;
          try {
            device.postEnvelope(unwrap(bytes));
          } catch (e) {
            this.log(`device ${d}: ${(e as Error).message}`);
          }
        }, (e) => this.log(`device ${d}: control link failed: ${e.message}`)));
      }
      const peersOf = (d: number) => [...Array(c.threads).keys()].filter((p) => p !== d && c.hostOf[p] === mine);
      await Promise.all(held.devices.map((dev) => {
        const peers = peersOf(dev.index);
        return dev.start([...peers.map((p) => ring(dev.index, p)), ...peers.map((p) => ring(p, dev.index))], reduce);
      }));
      const restart = (r: Rebuild) => this.rebuild(held, c, r, peersOf(r.device), ring, reduce);
      for (const d of c.devices) {
        held.subs.push(nc.subscribe(rebuild(prefix, d), { callback: (err, msg) => !err && void restart(decode<Rebuild>(msg.data)).then((a) => msg.respond(encode(a))) }));
      }
      await nc.flush();
      this.log(`claimed by ${c.session}: devices ${c.devices.join(', ')}`);
      return { ok: true };
    } catch (e) {
      await this.release();
      return { ok: false, error: `host ${this.id} could not start its devices: ${redact((e as Error).message, this.o.credentials ?? {})}` };
    }
  }

  /**
   * Starts a device thread of the claim again, as the coordinator's supervisor asks when it exited:
   * fresh rings with the devices of this host (they swap theirs first) and its all-reduce signals
   * reset; it opens fresh links to the other hosts' devices itself, named by the rebuild counts.
   */
  private async rebuild(held: Held, c: Claim, r: Rebuild, peers: number[], ring: (a: number, b: number, renew?: boolean) => SharedArrayBuffer, reduce: ReduceShared): Promise<ClaimAnswer> {
    const dev = held.devices.find((x) => x.index === r.device);
    if (this.held !== held || !dev) return { ok: false, error: `host ${this.id} does not run device ${r.device} for this coordinator` };
    if (dev.state === 'up' || dev.state === 'starting') return { ok: false, error: `device ${r.device} on host ${this.id} is ${dev.state}` };
    held.epochs = [...r.linkEpochs];
    dev.incarnation = r.incarnation - 1; // start() counts it up
    for (const p of peers) {
      ring(r.device, p, true);
      ring(p, r.device, true);
    }
    for (const p of peers) {
      const peer = held.devices.find((x) => x.index === p);
      if (peer?.state === 'up') peer.post({ type: 'rings', peers: [r.device] }, [ring(p, r.device), ring(r.device, p)]);
    }
    if (r.device < c.computeDevices) resetReduceSignals(reduce, c.computeDevices, r.device);
    try {
      await dev.start([...peers.map((p) => ring(r.device, p)), ...peers.map((p) => ring(p, r.device))], reduce);
      this.log(`device ${r.device} rebuilt (incarnation ${dev.incarnation})`);
      return { ok: true };
    } catch (e) {
      return { ok: false, error: `host ${this.id} could not start device ${r.device} again: ${redact((e as Error).message, this.o.credentials ?? {})}` };
    }
  }

  /** Stops the devices of the current claim and is free again. */
  async release(): Promise<void> {
    const h = this.held;
    if (!h) return;
    this.held = null;
    for (const s of h.subs) s.unsubscribe();
    for (const l of h.links?.values() ?? []) l.close();
    await Promise.all(h.devices.map((d) => d.terminate()));
  }

  /** Stops everything and closes the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const s of this.subs) s.unsubscribe();
    await this.release();
    if (!this.nc.isClosed()) await this.nc.close();
  }
}
