import type { ResourceLimits, Worker } from 'node:worker_threads';
import { siblingModule, startThread } from './thread.js';
import { errors } from '../errors.js';
import { PendingReplies } from './pending.js';
import { decode, envelope, type Envelope } from './codec.js';
import type { FromDevice, ToDevice } from './messages.js';
import type { ReduceShared } from './shared-reduce.js';

type Request = ToDevice extends infer M ? (M extends unknown ? ('req' extends keyof M ? Omit<M, 'req'> : never) : never) : never;

const workerFile = siblingModule('./device-worker', import.meta.url);

export interface DeviceOptions {
  index: number;
  devices: number;
  /** Compute devices plus service devices. */
  threads: number;
  modules: string[];
  resourceLimits?: ResourceLimits;
  onMessage: (m: FromDevice, shared?: SharedArrayBuffer[]) => void;
  onExit: (reason: string) => void;
  /** Fields added to the `init` message (hosts: the host of every device, and how to open NATS links). */
  init?: Pick<Extract<ToDevice, { type: 'init' }>, 'hostOf' | 'links'>;
  /**
   * A host relaying for a coordinator (src/hosts/host.ts): everything the thread sends after it is
   * ready goes to `relay` as it came, replies included, instead of being handled here.
   */
  relay?: (env: Envelope) => void;
  /** Hosts: every device's rebuild count as it stands when this one starts (`linkEpochs` of `init`). */
  linkEpochs?: () => number[];
}

/** What the actor system needs of a device: a thread here (Device) or one on another host (hosts/remote-device.ts). */
export interface DeviceHandle {
  readonly index: number;
  incarnation: number;
  state: 'starting' | 'up' | 'down' | 'failed';
  /** False for a device nothing can start again (one whose host is lost). */
  readonly rebuildable?: boolean;
  start(rings: SharedArrayBuffer[], reduce: ReduceShared, timeoutMs?: number): Promise<void>;
  post(message: ToDevice, shared?: SharedArrayBuffer[], reduce?: ReduceShared): void;
  request<T>(message: Request, timeoutMs: number, what: string): Promise<T>;
  failPending(e: Error): void;
  terminate(): Promise<void>;
}

export type DeviceRequest = Request;

/**
 * The main thread's handle on one device thread: starts it, sends control messages, matches
 * replies to requests (each with a timeout), and reports an unexpected exit once.
 */
export class Device implements DeviceHandle {
  readonly index: number;
  incarnation = 0;
  state: 'starting' | 'up' | 'down' | 'failed' = 'down';
  private worker: Worker | null = null;
  private readonly pending: PendingReplies;
  private exiting = false;

  constructor(private readonly opts: DeviceOptions) {
    this.index = opts.index;
    this.pending = new PendingReplies(opts.index);
  }

  /**
   * Starts the thread with its ring buffers ([out to each peer..., in from each peer...]) and the
   * shared all-reduce memory, and waits until it is ready.
   */
  start(rings: SharedArrayBuffer[], reduce: ReduceShared, timeoutMs = 30_000): Promise<void> {
    this.incarnation++;
    this.state = 'starting';
    this.exiting = false;
    const worker = startThread(workerFile, { resourceLimits: this.opts.resourceLimits });
    this.worker = worker;
    let reported = false;
    const exit = (reason: string) => {
      if (reported || this.worker !== worker) return;
      reported = true;
      this.worker = null;
      if (!this.exiting) this.opts.onExit(reason);
    };
    worker.on('error', (e) => exit(`${(e as Error & { code?: string }).code ?? 'error'}: ${e.message}`));
    worker.on('exit', (code) => exit(`thread exited with code ${code}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(errors.deviceCrashed(this.index, `did not start within ${timeoutMs} ms`)), timeoutMs);
      worker.on('message', (env: Envelope) => {
        const m = decode<FromDevice>(env.bytes);
        if (m.type === 'ready') {
          clearTimeout(timer);
          this.state = 'up';
          resolve();
        } else if (m.type === 'init-failed') {
          clearTimeout(timer);
          reject(errors.deviceFailedToStart(this.index, m.error));
        } else if (this.opts.relay) this.opts.relay(env);
        else if (m.type === 'reply') this.pending.settle(m.req, m.ok, m.value, m.error);
        else this.opts.onMessage(m, env.shared);
      });
      let lastError = '';
      worker.on('error', (e) => (lastError = e.message));
      worker.once('exit', (code) => {
        clearTimeout(timer);
        reject(errors.deviceCrashed(this.index, `exited with code ${code} while starting${lastError ? `: ${lastError}` : ''}`));
      });
      this.post({ type: 'init', device: this.index, devices: this.opts.devices, threads: this.opts.threads, modules: this.opts.modules, incarnation: this.incarnation, ...this.opts.init, ...(this.opts.linkEpochs ? { linkEpochs: this.opts.linkEpochs() } : {}) }, rings, reduce);
    });
  }

  post(message: ToDevice, shared?: SharedArrayBuffer[], reduce?: ReduceShared): void {
    if (!this.worker) throw errors.deviceCrashed(this.index, 'not running');
    const { env, transfer } = envelope(message, shared, reduce);
    this.worker.postMessage(env, transfer);
  }

  /** Hands the thread an already encoded message (a host relaying its coordinator's). */
  postEnvelope(env: Envelope): void {
    if (!this.worker) throw errors.deviceCrashed(this.index, 'not running');
    this.worker.postMessage(env, [env.bytes.buffer as ArrayBuffer]);
  }

  /** Sends a request and resolves with the device's reply; rejects on timeout or if the device dies. */
  request<T>(message: Request, timeoutMs: number, what: string): Promise<T> {
    if (this.state !== 'up' || !this.worker) return Promise.reject(errors.deviceCrashed(this.index, `is ${this.state}; cannot ${what}`));
    return this.pending.open<T>((req) => this.post({ ...message, req } as ToDevice), timeoutMs, what);
  }

  /** Rejects every request in flight (the device died). */
  failPending(e: Error): void {
    this.pending.failAll(e);
  }

  async terminate(): Promise<void> {
    this.exiting = true;
    const w = this.worker;
    this.worker = null;
    this.state = 'down';
    this.failPending(errors.stopped(`device ${this.index}`));
    if (w) await w.terminate();
  }
}
