/**
 * The one catalog of flexmoe errors. Every failure is a factory here, so messages stay stable
 * (tests match them by regex) and every error carries a `code` a caller can switch on.
 */
export class FlexMoEError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'FlexMoEError';
    this.code = code;
  }
}

const fmt = (shape: readonly number[]) => `[${shape.join(',')}]`;

export const errors = {
  shapeMismatch: (op: string, what: string, a: readonly number[], b: readonly number[]) =>
    new FlexMoEError('E_SHAPE', `${op}: shape mismatch, ${what}: ${fmt(a)} vs ${fmt(b)}`),
  badShape: (op: string, shape: readonly number[], expected: string) =>
    new FlexMoEError('E_SHAPE', `${op}: bad shape ${fmt(shape)}, expected ${expected}`),
  dtypeMismatch: (op: string, got: string, expected: string) =>
    new FlexMoEError('E_DTYPE', `${op}: wrong dtype ${got}, expected ${expected}`),
  sizeMismatch: (op: string, shape: readonly number[], length: number) =>
    new FlexMoEError('E_SHAPE', `${op}: shape ${fmt(shape)} needs ${shape.reduce((a, b) => a * b, 1)} elements, got ${length}`),
  unknownBackend: (name: string, available: readonly string[]) =>
    new FlexMoEError('E_BACKEND', `unknown backend "${name}"; available: ${available.join(', ')}`),
  backendUnavailable: (name: string, why: string) =>
    new FlexMoEError('E_BACKEND', `backend "${name}" is not available on this machine: ${why}`),
  duplicateKernel: (kernel: string, backend: string) =>
    new FlexMoEError('E_KERNEL', `kernel "${kernel}" is already registered for backend "${backend}"`),
  missingKernel: (kernel: string, backend: string) =>
    new FlexMoEError('E_KERNEL', `no kernel "${kernel}" registered for backend "${backend}"`),
  indexOutOfRange: (op: string, index: number, limit: number, position: number) =>
    new FlexMoEError('E_RANGE', `${op}: index ${index} at position ${position} is outside [0, ${limit})`),
  badArgument: (op: string, what: string) => new FlexMoEError('E_ARG', `${op}: ${what}`),
  nonFinite: (where: string, value: number) =>
    new FlexMoEError('E_NONFINITE', `${where}: value is ${value} (NaN or Inf); stopping rather than training a broken model`),
  nonFiniteAnswer: (what: string, value: number) => new FlexMoEError('E_NONFINITE', `${what} is ${value}: not answered (the other requests of its pass are unaffected)`),
  poolReleaseForeign: (what: string) => new FlexMoEError('E_POOL', `pool: ${what}`),
  unknownCommand: (name: string, known: readonly string[], near?: string | null) =>
    new FlexMoEError('E_CLI', `unknown command "${name}"; known commands: ${known.join(', ')}${near ? ` (did you mean "${near}"?)` : ''}`),
  corpusMissing: (what: string) => new FlexMoEError('E_DATA', `corpus: ${what}`),

  // runtime: channels, devices, actors

  ringSize: (channel: string, bytes: number) =>
    new FlexMoEError('E_CHANNEL', `channel ${channel}: ring of ${bytes} bytes must be 256 + a power of two ≥ 4096`),
  frameTooLarge: (channel: string, bytes: number, max: number) =>
    new FlexMoEError('E_CHANNEL', `channel ${channel}: frame payload of ${bytes} bytes exceeds the ring's ${max}; send it in chunks`),
  badFrame: (channel: string, seq: number, why: string) => new FlexMoEError('E_CHANNEL', `channel ${channel}: cannot write frame ${seq}: ${why}`),
  corruptFrame: (channel: string, seq: number, why: string) =>
    new FlexMoEError('E_CORRUPT_FRAME', `channel ${channel}: corrupt frame at sequence ${seq}: ${why}`),
  askTimeout: (actor: string, device: number, ms: number, what: string) =>
    new FlexMoEError('E_TIMEOUT', `ask to ${actor} on device ${device} timed out after ${ms} ms (${what})`),
  deviceCrashed: (device: number, why: string) => new FlexMoEError('E_DEVICE', `device ${device} crashed: ${why}`),
  /** `restarts` null: a device this process cannot rebuild (one on another host). */
  deviceFailed: (device: number, restarts: number | null, why: string) =>
    new FlexMoEError('E_DEVICE', `device ${device} failed permanently ${restarts === null ? '(its host is lost: nothing can start it again)' : `after ${restarts} restarts in a row`}: ${why}`),
  crashLoop: (step: number, times: number, last: string) =>
    new FlexMoEError('E_DEVICE', `step ${step} failed ${times} times with a crashed device (the last: ${last}); training stops`),
  unknownActor: (id: string) => new FlexMoEError('E_ACTOR', `unknown actor ${id}`),
  unknownActorClass: (name: string, known: readonly string[]) =>
    new FlexMoEError('E_ACTOR', `unknown actor class "${name}"; registered: ${known.join(', ') || 'none'}`),
  duplicateActorClass: (name: string) => new FlexMoEError('E_ACTOR', `actor class "${name}" is already registered`),
  actorFailed: (what: string, device: number, message: string) => new FlexMoEError('E_ACTOR', `${what} on device ${device} failed: ${message}`),
  badDevice: (device: number, count: number) => new FlexMoEError('E_DEVICE', `device ${device} does not exist (devices 0..${count - 1})`),
  stopped: (what: string) => new FlexMoEError('E_STOPPED', `${what}: the actor system is stopped`),
  collective: (what: string) => new FlexMoEError('E_COLLECTIVE', what),
  checkpoint: (path: string, what: string) => new FlexMoEError('E_CHECKPOINT', `checkpoint ${path} ${what}`),
  overloaded: (waiting: number, limit: number) =>
    new FlexMoEError('E_OVERLOADED', `overloaded: ${waiting} requests are waiting (limit ${limit}); try again later`),
  modelClosed: (op: string) => new FlexMoEError('E_CLOSED', `${op}: the model is closed`),
  deviceFailedToStart: (device: number, why: string) => new FlexMoEError('E_MODULE', `device ${device} could not start: ${why}`),
  moduleFailed: (path: string, why: string) => new FlexMoEError('E_MODULE', `module ${path} failed to import: ${why.split('\n')[0]}`),
  aborted: (op: string, done: number) => new FlexMoEError('E_ABORTED', `${op}: aborted after ${done} tokens`),
  servingFailed: (why: string) => new FlexMoEError('E_SERVING', `serving failed: ${why}; the model is recovering`),
} as const;
