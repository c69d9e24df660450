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
/** Control links (control-link.ts) between the coordinator and each host's device. */
export const controlPrefix = (prefix: string) => `${prefix}.ctl`;
export const exited = (prefix: string, device: number) => `${prefix}.exit.${device}`;
/** The coordinator asks the host running `device` to start its thread again (a `Rebuild`, answered with a `ClaimAnswer`). */
export const rebuild = (prefix: string, device: number) => `${prefix}.rebuild.${device}`;
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

/** A device thread to start again: every device's rebuild count, this one's included (links are opened by them). */
export interface Rebuild {
  device: number;
  /** The incarnation it starts as (the coordinator's count: the host's follows it, so exit reports match). */
  incarnation: number;
  linkEpochs: number[];
}

/** What a host says when a device's thread exits: why, and which incarnation it was. */
export interface Exited {
  reason: string;
  incarnation: number;
}

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

