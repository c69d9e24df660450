/**
 * The coordinator's handle on a device that a host runs (src/hosts/host.ts): the same control
 * protocol as a local device thread (runtime/device.ts), carried over NATS. The host starts the
 * thread when it is claimed; this handle only sends, matches replies to requests, and reports the
 * device gone when the host says its thread exited or stops beating.
 */
import type { NatsConnection, Subscription } from 'nats';
import { errors } from '../errors.js';
import { PendingReplies } from '../runtime/pending.js';
import { decode, envelope } from '../runtime/codec.js';
import type { DeviceHandle, DeviceRequest } from '../runtime/device.js';
import type { FromDevice, ToDevice } from '../runtime/messages.js';
import { ControlLink, COORDINATOR } from './control-link.js';
import { controlPrefix, exited, unwrap, wrap } from './wire.js';

export interface RemoteDeviceOptions {
  index: number;
  host: string;
  prefix: string;
  onMessage: (m: FromDevice, shared?: SharedArrayBuffer[]) => void;
  onExit: (reason: string) => void;
}

export class RemoteDevice implements DeviceHandle {
  readonly index: number;
  incarnation = 1;
  state: DeviceHandle['state'] = 'up';
  readonly rebuildable = false;
  private readonly pending: PendingReplies;
  private readonly subs: Subscription[];
  private readonly link: ControlLink;

  constructor(private readonly nc: NatsConnection, private readonly o: RemoteDeviceOptions) {
    this.index = o.index;
    this.pending = new PendingReplies(o.index);
    this.link = new ControlLink(nc, controlPrefix(o.prefix), COORDINATOR, o.index, (bytes) => this.onUp(bytes), (e) => this.lost(`control link to host ${o.host} failed: ${e.message}`));
    this.subs = [nc.subscribe(exited(o.prefix, o.index), { callback: (err, msg) => !err && this.lost(decode<{ reason: string }>(msg.data).reason) })];
  }

  get host(): string {
    return this.o.host;
  }

  private onUp(data: Uint8Array): void {
    const env = unwrap(data);
    const m = decode<FromDevice>(env.bytes);
    if (m.type === 'reply') this.pending.settle(m.req, m.ok, m.value, m.error);
    else if (m.type !== 'ready' && m.type !== 'init-failed') this.o.onMessage(m, env.shared);
  }

  /** The device is gone (its thread exited on the host, or the host stopped beating). */
  lost(reason: string): void {
    if (this.state !== 'up') return;
    this.state = 'down';
    this.o.onExit(reason);
  }

  /** A thread on another host is rebuilt by that host, not from here. */
  start(): Promise<void> {
    return Promise.reject(errors.deviceCrashed(this.index, `it runs on host ${this.o.host}, which does not rebuild device threads for a coordinator`));
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
