/**
 * The coordinator's handle on a device that a host runs (src/hosts/host.ts): the same control
 * protocol as a local device thread (runtime/device.ts), carried over NATS. The host starts the
 * thread when it is claimed, and again when the supervisor rebuilds it (`start`: a request to the
 * host); this handle sends, matches replies to requests, and reports the device gone when the host
 * says its thread exited or stops beating. A device whose host is lost cannot be rebuilt.
 */
import type { NatsConnection, Subscription } from 'nats';
import { errors } from '../errors.js';
import { PendingReplies } from '../runtime/pending.js';
import { decode, encode, envelope } from '../runtime/codec.js';
import type { DeviceHandle, DeviceRequest } from '../runtime/device.js';
import type { FromDevice, ToDevice } from '../runtime/messages.js';
import { ControlLink, COORDINATOR } from './control-link.js';
import { controlPrefix, exited, rebuild, unwrap, wrap, type ClaimAnswer, type Exited, type Rebuild } from './wire.js';

export interface RemoteDeviceOptions {
  index: number;
  host: string;
  prefix: string;
  onMessage: (m: FromDevice, shared?: SharedArrayBuffer[]) => void;
  onExit: (reason: string) => void;
  /** Every device's rebuild count, this one's included, when it is rebuilt (its links are named by them). */
  linkEpochs: () => number[];
}

export class RemoteDevice implements DeviceHandle {
  readonly index: number;
  incarnation = 1;
  state: DeviceHandle['state'] = 'up';
  private hostGone: string | null = null;
  private readonly pending: PendingReplies;
  private readonly subs: Subscription[];
  private readonly link: ControlLink;

  constructor(private readonly nc: NatsConnection, private readonly o: RemoteDeviceOptions) {
    this.index = o.index;
    this.pending = new PendingReplies(o.index);
    this.link = new ControlLink(nc, controlPrefix(o.prefix), COORDINATOR, o.index, (bytes) => this.onUp(bytes), (e) => this.lost(`control link to host ${o.host} failed: ${e.message}`));
    this.subs = [nc.subscribe(exited(o.prefix, o.index), { callback: (err, msg) => {
      if (err) return;
      const x = decode<Exited>(msg.data);
      // An exit of an incarnation before this one was handled already.
      if (x.incarnation >= this.incarnation) this.lost(x.reason);
    } })];
  }

  get host(): string {
    return this.o.host;
  }

  /** Whether the supervisor may ask for it again: not once its host is lost. */
  get rebuildable(): boolean {
    return this.hostGone === null;
  }

  private onUp(data: Uint8Array): void {
    const env = unwrap(data);
    const m = decode<FromDevice>(env.bytes);
    if (m.type === 'reply') this.pending.settle(m.req, m.ok, m.value, m.error);
    else if (m.type !== 'ready' && m.type !== 'init-failed') this.o.onMessage(m, env.shared);
  }

  /** The device is gone (its thread exited on the host, or its control link failed). */
  lost(reason: string): void {
    if (this.state !== 'up' && this.state !== 'starting') return;
    this.state = 'down';
    this.o.onExit(reason);
  }

  /** Its host stopped beating: the device is gone, and nothing here can start it again. */
  hostLost(reason: string): void {
    this.hostGone = reason;
    this.lost(reason);
  }

  /** Asks its host to start the thread again (rings on that host are the host's to make). */
  async start(_rings?: SharedArrayBuffer[], _reduce?: unknown, timeoutMs = 30_000): Promise<void> {
    if (this.hostGone) throw errors.deviceCrashed(this.index, `its host ${this.o.host} is lost (${this.hostGone})`);
    this.incarnation++;
    this.state = 'starting';
    const request: Rebuild = { device: this.index, incarnation: this.incarnation, linkEpochs: this.o.linkEpochs() };
    let answer: ClaimAnswer;
    try {
      answer = decode<ClaimAnswer>((await this.nc.request(rebuild(this.o.prefix, this.index), encode(request), { timeout: timeoutMs })).data);
    } catch (e) {
      this.state = 'down';
      throw errors.deviceCrashed(this.index, `host ${this.o.host} did not start it again: ${(e as Error).message}`);
    }
    if (!answer.ok) {
      this.state = 'down';
      throw errors.deviceFailedToStart(this.index, answer.error);
    }
    if (this.state === 'starting') this.state = 'up';
  }

  post(message: ToDevice, shared?: SharedArrayBuffer[]): void {
    if (this.state !== 'up' || this.nc.isClosed()) throw errors.deviceCrashed(this.index, `is ${this.state} (host ${this.o.host})`);
    this.link.send(wrap(envelope(message, shared).env));
  }

  request<T>(message: DeviceRequest, timeoutMs: number, what: string): Promise<T> {
    if (this.state !== 'up') return Promise.reject(errors.deviceCrashed(this.index, `is ${this.state}; cannot ${what}`));
    return this.pending.open<T>((req) => this.post({ ...message, req } as ToDevice), timeoutMs, what, `no reply from host ${this.o.host}`);
  }

  failPending(e: Error): void {
    this.pending.failAll(e);
  }

  async terminate(): Promise<void> {
    this.state = 'down';
    this.failPending(errors.stopped(`device ${this.index}`));
    for (const s of this.subs) s.unsubscribe();
    this.link.close();
  }
}
