/**
 * The coordinator's side of hosts: finds free hosts on the NATS server, numbers their devices after
 * its own, claims them, beats its heart for them, and watches theirs: a host that misses its beats
 * for `lostAfterMs` has lost every device it ran.
 */
import { createInbox, type NatsConnection } from 'nats';
import { randomBytes } from 'node:crypto';
import { errors } from '../errors.js';
import { decode, encode } from '../runtime/codec.js';
import { connectNats } from './connect.js';
import { redact, type NatsCredentials } from './credentials.js';
import { coordinatorBeat, DISCOVER, hostBeat, hostClaim, release, sessionPrefix, type Claim, type ClaimAnswer, type HostInfo } from './wire.js';

export interface HostsOptions {
  /** The NATS server's URL. */
  nats: string;
  /** How many hosts to claim (each brings the devices it offers). */
  hosts: number;
  credentials?: NatsCredentials;
  /** How long to look for enough free hosts (default 15 s). */
  discoverMs?: number;
  /** A host missing its heartbeats this long has lost its devices (default 1 s). */
  lostAfterMs?: number;
}

export interface ClusterLayout {
  /** Compute devices on this process, numbered first. */
  localCompute: number;
  serviceDevices: number;
  modules: string[];
  ringBytes: number;
  reduceBytes: number;
}

export class Cluster {
  readonly session = randomBytes(6).toString('hex');
  readonly prefix = sessionPrefix(this.session);
  /** The host of every thread: 0 is this process; hosts are 1, 2, … in the order of `hosts`. */
  hostOf: number[] = [];
  hosts: { id: string; devices: number[] }[] = [];
  computeDevices = 0;
  threads = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly lastBeat = new Map<string, number>();
  private readonly lostHosts = new Set<string>();
  /** Called once per host that stops beating. */
  onHostLost: (id: string, devices: number[], reason: string) => void = () => undefined;

  private constructor(readonly nc: NatsConnection, readonly o: HostsOptions) {}

  static async claim(o: HostsOptions, layout: ClusterLayout): Promise<Cluster> {
    if (!Number.isInteger(o.hosts) || o.hosts < 1) throw errors.badArgument('hosts', `the number of hosts must be a positive integer, got ${o.hosts}`);
    const nc = await connectNats(o.nats, { name: 'flexmoe coordinator', credentials: o.credentials });
    const c = new Cluster(nc, o);
    try {
      await c.claimHosts(layout);
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  /** Every host that answers within `ms`. */
  private async discover(ms: number): Promise<HostInfo[]> {
    const inbox = createInbox();
    const found: HostInfo[] = [];
    const sub = this.nc.subscribe(inbox, { callback: (err, msg) => !err && found.push(decode<HostInfo>(msg.data)) });
    this.nc.publish(DISCOVER, new Uint8Array(0), { reply: inbox });
    await new Promise((r) => setTimeout(r, ms));
    sub.unsubscribe();
    return found;
  }

  private async claimHosts(layout: ClusterLayout): Promise<void> {
    const want = this.o.hosts, deadline = performance.now() + (this.o.discoverMs ?? 15_000);
    // Every host heard from in the window, its latest answer: a host slow to answer one round still counts.
    const seen = new Map<string, HostInfo>();
    let free: HostInfo[] = [], all: HostInfo[] = [];
    while (performance.now() < deadline) {
      for (const h of await this.discover(200)) seen.set(h.id, h);
      all = [...seen.values()];
      free = all.filter((h) => h.claimedBy === null).sort((a, b) => (a.id < b.id ? -1 : 1));
      if (free.length >= want) break;
    }
    if (free.length < want) {
      const held = all.filter((h) => h.claimedBy !== null).map((h) => h.id).sort();
      throw errors.badArgument('hosts', `found ${free.length} free host(s) of the ${want} wanted on ${redact(this.o.nats, this.o.credentials ?? {})} within ${this.o.discoverMs ?? 15_000} ms${held.length ? ` (held by another coordinator: ${held.join(', ')})` : ''}; start them with \`flexmoe host --nats URL --devices N\``);
    }
    let next = layout.localCompute;
    this.hosts = free.slice(0, want).map((h) => ({ id: h.id, devices: Array.from({ length: h.devices }, () => next++) }));
    this.computeDevices = next;
    this.threads = next + layout.serviceDevices;
    this.hostOf = Array.from({ length: this.threads }, (_, d) => {
      const k = this.hosts.findIndex((h) => h.devices.includes(d));
      return k + 1; // -1 + 1: this process
    });
    this.beat();
    const claimed: string[] = [];
    try {
      for (const h of this.hosts) {
        const claim: Claim = { session: this.session, devices: h.devices, computeDevices: this.computeDevices, threads: this.threads, hostOf: this.hostOf, modules: layout.modules, ringBytes: layout.ringBytes, reduceBytes: layout.reduceBytes };
        const answer = decode<ClaimAnswer>((await this.nc.request(hostClaim(h.id), encode(claim), { timeout: 60_000 })).data);
        if (!answer.ok) throw errors.badArgument('hosts', answer.error);
        claimed.push(h.id);
      }
    } catch (e) {
      if (claimed.length) this.nc.publish(release(this.prefix));
      throw e;
    }
    this.watch();
  }

  private beat(): void {
    const t = setInterval(() => !this.nc.isClosed() && this.nc.publish(coordinatorBeat(this.prefix)), 250);
    this.timers.push(t);
  }

  private watch(): void {
    const lostAfter = this.o.lostAfterMs ?? 1000;
    for (const h of this.hosts) {
      this.lastBeat.set(h.id, performance.now());
      this.nc.subscribe(hostBeat(h.id), { callback: () => void this.lastBeat.set(h.id, performance.now()) });
    }
    const t = setInterval(() => {
      for (const h of this.hosts) {
        if (this.lostHosts.has(h.id) || performance.now() - this.lastBeat.get(h.id)! <= lostAfter) continue;
        this.lostHosts.add(h.id);
        this.onHostLost(h.id, h.devices, `host ${h.id} lost: no heartbeat for ${lostAfter} ms`);
      }
    }, Math.min(100, lostAfter / 4));
    this.timers.push(t);
  }

  /** The host running `device`, or null for this process's own. */
  hostFor(device: number): string | null {
    return this.hosts.find((h) => h.devices.includes(device))?.id ?? null;
  }

  /** Releases every host and closes the connection. */
  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    if (!this.nc.isClosed()) {
      this.nc.publish(release(this.prefix));
      await this.nc.flush().catch(() => undefined);
      await this.nc.close();
    }
  }
}
