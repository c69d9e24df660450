/**
 * How hosts and their coordinator talk over NATS: the subjects, and control envelopes with their
 * SharedArrayBuffers carried as bytes (shared memory does not cross machines; each side rebuilds
 * the buffers it is given).
 */
import { decode, encode, type Envelope } from '../runtime/codec.js';

/** Every host answers discovery here, and beats its heart on `hostBeat(id)`. */
export const DISCOVER = 'flexmoe.hosts.discover';
export const hostBeat = (id: string) => `flexmoe.hosts.${id}.beat`;
export const hostClaim = (id: string) => `flexmoe.hosts.${id}.claim`;

/** A coordinator's session: every subject of its run is under `flexmoe.s.<session>`. */
export const sessionPrefix = (session: string) => `flexmoe.s.${session}`;
export const control = (prefix: string, device: number) => `${prefix}.ctl.${device}`;
export const upward = (prefix: string, device: number) => `${prefix}.up.${device}`;
export const exited = (prefix: string, device: number) => `${prefix}.exit.${device}`;
export const coordinatorBeat = (prefix: string) => `${prefix}.beat`;
export const release = (prefix: string) => `${prefix}.release`;

/** What a host says of itself when discovered. */
export interface HostInfo {
  id: string;
  devices: number;
  /** The session that holds it, or null when free. */
  claimedBy: string | null;
}

/** What a coordinator asks of a host it claims. */
export interface Claim {
  session: string;
  /** The global indices of the devices this host runs. */
  devices: number[];
  /** Compute devices in the run, and all threads (service devices after them). */
  computeDevices: number;
  threads: number;
  /** The host of every thread (the coordinator is host 0). */
  hostOf: number[];
  modules: string[];
  ringBytes: number;
  reduceBytes: number;
}

export type ClaimAnswer = { ok: true } | { ok: false; error: string };

export function wrap(env: Envelope): Uint8Array {
  return encode({ b: env.bytes, s: env.shared?.map((sab) => new Uint8Array(sab)) });
}

/** An envelope from the wire, its bytes in a buffer of their own, its shared buffers rebuilt. */
export function unwrap(data: Uint8Array): Envelope {
  const w = decode<{ b: Uint8Array; s?: Uint8Array[] }>(data);
  const env: Envelope = { bytes: new Uint8Array(w.b) };
  if (w.s) {
    env.shared = w.s.map((u) => {
      const sab = new SharedArrayBuffer(u.byteLength);
      new Uint8Array(sab).set(u);
      return sab;
    });
  }
  return env;
}

const WHOLE = 0, PART = 1, PART_HEAD = 13;

/**
 * Publishes a control message of any size: in one NATS message when it fits the server's max
 * payload, else in consecutive parts (a publisher's messages on a subject arrive in order, and the
 * parts are published back to back, so they arrive whole and unmixed).
 */
export function publishControl(nc: import('nats').NatsConnection, subject: string, bytes: Uint8Array): void {
  const max = (nc.info?.max_payload ?? 1 << 20) - 64;
  if (bytes.byteLength + 1 <= max) {
    const m = new Uint8Array(bytes.byteLength + 1);
    m[0] = WHOLE;
    m.set(bytes, 1);
    return nc.publish(subject, m);
  }
  const size = max - PART_HEAD, count = Math.ceil(bytes.byteLength / size);
  for (let i = 0; i < count; i++) {
    const part = bytes.subarray(i * size, Math.min(bytes.byteLength, (i + 1) * size));
    const m = new Uint8Array(PART_HEAD + part.byteLength), dv = new DataView(m.buffer);
    m[0] = PART;
    dv.setUint32(1, bytes.byteLength, true);
    dv.setUint32(5, i, true);
    dv.setUint32(9, count, true);
    m.set(part, PART_HEAD);
    nc.publish(subject, m);
  }
}

/** Puts control messages back together on one subject: the whole message once its last part is in, else null. */
export class ControlAssembler {
  private buf: Uint8Array | null = null;
  private at = 0;
  private expect = 0;

  push(m: Uint8Array): Uint8Array | null {
    if (m[0] === WHOLE) return m.subarray(1);
    const dv = new DataView(m.buffer, m.byteOffset, m.byteLength);
    const total = dv.getUint32(1, true), i = dv.getUint32(5, true), count = dv.getUint32(9, true);
    if (i === 0) [this.buf, this.at, this.expect] = [new Uint8Array(total), 0, 0];
    // A part out of turn (its message was cut short by a reconnect): drop what was gathered.
    if (!this.buf || i !== this.expect) return (this.buf = null);
    this.buf.set(m.subarray(PART_HEAD), this.at);
    this.at += m.byteLength - PART_HEAD;
    this.expect++;
    if (i < count - 1) return null;
    const whole = this.buf;
    this.buf = null;
    return whole;
  }
}
