import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { errors } from '../errors.js';
import type { TaskName } from '../models/tasks.js';
import type { CharTransformerConfig } from '../models/char-transformer.js';
import type { VisionMoEConfig } from '../models/vision-moe.js';
import { isManifest, loadSharded } from './sharded-checkpoint.js';

/**
 * Checkpoint container (safetensors-like): 8-byte magic "FMOECKPT", a u32 header length, a JSON
 * header, zero padding to 8 bytes, then the raw little-endian float32 blob. The header lists every
 * tensor (name, shape, byte offset) and an FNV-1a checksum of the blob. Tensors are named by
 * logical id (`block0.moe.expert3.up.weight`), never by device, so a checkpoint written on 2 devices
 * loads on 1 or 3. Written to a temporary file and renamed: a crash never leaves half a checkpoint.
 */
const MAGIC = 'FMOECKPT';
export const CHECKPOINT_FORMAT = 'flexmoe-checkpoint/1';

export interface CheckpointTensor {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export interface CheckpointHeader {
  format: typeof CHECKPOINT_FORMAT;
  /** Anything describing the run: model config, step, placement, data position. */
  meta: Record<string, unknown>;
  tensors: CheckpointTensor[];
  blobBytes: number;
  checksum: string;
}

export function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Removes temporary files a killed run left beside `path` (`<name>.tmp-<pid>` of a process that is
 * gone); returns how many. Files of live processes (a run writing now) are left alone.
 */
export function removeStaleTemps(path: string): number {
  const dir = dirname(path), prefix = `${basename(path)}.tmp-`;
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || alive(pid)) continue;
    try {
      unlinkSync(`${dir}/${name}`);
      removed++;
    } catch {
      // Gone already, or not ours to remove: nothing to do.
    }
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function saveCheckpoint(path: string, meta: Record<string, unknown>, tensors: Map<string, { shape: number[]; data: Float32Array }>): number {
  return writeCheckpointFile(path, meta, tensors).bytes;
}

/** `saveCheckpoint`, saying what it wrote: the file's bytes and the blob's checksum (a shard's manifest records it). */
export function writeCheckpointFile(path: string, meta: Record<string, unknown>, tensors: Map<string, { shape: number[]; data: Float32Array }>): { bytes: number; checksum: string } {
  removeStaleTemps(path);
  const entries: CheckpointTensor[] = [];
  let offset = 0;
  for (const [name, t] of [...tensors.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    entries.push({ name, shape: t.shape, offset, length: t.data.length });
    offset += t.data.byteLength;
  }
  const blob = new Uint8Array(offset);
  for (const e of entries) {
    const t = tensors.get(e.name)!.data;
    blob.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), e.offset);
  }
  const header: CheckpointHeader = { format: CHECKPOINT_FORMAT, meta, tensors: entries, blobBytes: blob.byteLength, checksum: fnv1a(blob) };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const lead = Buffer.alloc(12);
  lead.write(MAGIC, 0, 'latin1');
  lead.writeUInt32LE(json.byteLength, 8);
  const pad = Buffer.alloc((8 - ((12 + json.byteLength) % 8)) % 8);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const part of [lead, json, pad, blob]) writeSync(fd, part);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return { bytes: 12 + json.byteLength + pad.byteLength + blob.byteLength, checksum: header.checksum };
}

export interface LoadedCheckpoint {
  meta: Record<string, unknown>;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  /** The blob's checksum (single files and shards; absent for a manifest's merged view). */
  checksum?: string;
}

/**
 * Reads and verifies a checkpoint, a single file or a sharded one (its manifest: every shard is read
 * and merged); a missing, foreign, truncated or corrupt file is an error saying which.
 */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  if (isManifest(path)) return loadSharded(path);
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw errors.checkpoint(path, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (buf.byteLength < 12 || buf.toString('latin1', 0, 8) !== MAGIC) throw errors.checkpoint(path, 'is not a flexmoe checkpoint (bad magic)');
  const headerBytes = buf.readUInt32LE(8);
  if (12 + headerBytes > buf.byteLength) throw errors.checkpoint(path, `is truncated: the header needs ${12 + headerBytes} bytes, the file has ${buf.byteLength}`);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + headerBytes)) as CheckpointHeader;
  } catch {
    throw errors.checkpoint(path, 'is corrupt: its header is not valid JSON');
  }
  if (header?.format !== CHECKPOINT_FORMAT) throw errors.checkpoint(path, `has format ${JSON.stringify(header?.format)}, expected ${CHECKPOINT_FORMAT}`);
  checkHeader(path, header);
  const start = 12 + headerBytes + ((8 - ((12 + headerBytes) % 8)) % 8);
  if (buf.byteLength < start + header.blobBytes) throw errors.checkpoint(path, `is truncated: expected ${start + header.blobBytes} bytes, found ${buf.byteLength}`);
  const blob = new Uint8Array(buf.buffer, buf.byteOffset + start, header.blobBytes);
  if (fnv1a(blob) !== header.checksum) throw errors.checkpoint(path, 'is corrupt: checksum mismatch');
  const aligned = new Uint8Array(blob); // copy once so every tensor view is 4-byte aligned
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const t of header.tensors) tensors.set(t.name, { shape: t.shape, data: new Float32Array(aligned.buffer, t.offset, t.length) });
  return { meta: header.meta, tensors, checksum: header.checksum };
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/**
 * The header's structure, before any tensor is read: a checksum proves the blob unchanged, not
 * that the header describing it is sane. Every tensor has a unique name, a shape of whole sizes, a
 * length equal to its shape's size and a 4-byte-aligned place inside the blob, and no two overlap.
 */
function checkHeader(path: string, h: CheckpointHeader): void {
  const bad = (what: string) => errors.checkpoint(path, `is corrupt: ${what}`);
  if (!h.meta || typeof h.meta !== 'object' || Array.isArray(h.meta)) throw bad('its header has no meta object');
  if (!Array.isArray(h.tensors)) throw bad('its header has no tensor list');
  if (!isCount(h.blobBytes)) throw bad(`blobBytes ${JSON.stringify(h.blobBytes)} is not a byte count`);
  if (typeof h.checksum !== 'string') throw bad('its header has no checksum');
  const names = new Set<string>();
  const spans: [number, number, string][] = [];
  for (const [i, t] of h.tensors.entries()) {
    if (!t || typeof t.name !== 'string' || t.name === '') throw bad(`tensor ${i} has no name`);
    if (names.has(t.name)) throw bad(`tensor ${t.name} is listed twice`);
    names.add(t.name);
    if (!Array.isArray(t.shape) || !t.shape.every(isCount)) throw bad(`tensor ${t.name} has shape ${JSON.stringify(t.shape)}`);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (!isCount(t.length) || t.length !== size) throw bad(`tensor ${t.name} has length ${JSON.stringify(t.length)} for shape [${t.shape.join(',')}] (${size} values)`);
    if (!isCount(t.offset) || t.offset % 4 !== 0 || t.offset + 4 * t.length > h.blobBytes) throw bad(`tensor ${t.name} at byte ${JSON.stringify(t.offset)} (${4 * t.length} bytes) lies outside the ${h.blobBytes}-byte blob or off 4-byte alignment`);
    spans.push([t.offset, t.offset + 4 * t.length, t.name]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) if (spans[i]![0] < spans[i - 1]![1]) throw bad(`tensors ${spans[i - 1]![2]} and ${spans[i]![2]} overlap`);
}

/**
 * Checks that `names` (what a model reads from the checkpoint) are all there, and that the
 * checkpoint holds nothing else: a tensor left out would leave a parameter at its initial value,
 * an extra one means the checkpoint is of another model. `optional(name)` marks names a reader may
 * skip (serving skips Adam moments).
 */
export function checkTensorNames(path: string, held: Iterable<string>, names: Iterable<string>, optional: (name: string) => boolean = () => false): void {
  const want = new Set(names), have = new Set(held);
  const missing = [...want].filter((n) => !have.has(n));
  if (missing.length) throw errors.checkpoint(path, `lacks ${missing.length} tensor(s) this model needs: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  const extra = [...have].filter((n) => !want.has(n) && !optional(n));
  if (extra.length) throw errors.checkpoint(path, `holds ${extra.length} tensor(s) this model does not have: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''}`);
}

const perThread = new Map<string, { version: string; ckpt: WeakRef<LoadedCheckpoint> }>();

/**
 * `loadCheckpoint`, read once per thread while the file is unchanged: the server and every gate and
 * expert actor on a device load their weights from the same file, and should not each read it. Held
 * weakly: once every actor has copied its weights out, the file's contents can be collected.
 */
export function loadCheckpointShared(path: string): LoadedCheckpoint {
  let version: string;
  try {
    const st = statSync(path);
    version = `${st.mtimeMs}:${st.size}`;
  } catch (e) {
    throw errors.checkpoint(path, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const hit = perThread.get(path);
  const cached = hit?.version === version ? hit.ckpt.deref() : undefined;
  if (cached) return cached;
  const ckpt = isManifest(path) ? loadSharded(path, true) : loadCheckpoint(path);
  perThread.set(path, { version, ckpt: new WeakRef(ckpt) });
  return ckpt;
}

/** A checkpoint only loads into a model of the same kind and shape; the error names the first difference. */
export function checkCompatible(path: string, meta: Record<string, unknown>, task: TaskName, now: CharTransformerConfig | VisionMoEConfig): void {
  const savedTask = (meta.task as string | undefined) ?? 'gpt-moe';
  if (savedTask !== task) throw errors.checkpoint(path, `does not match this model: it holds ${savedTask}, this is ${task}`);
  const saved = meta.config as Record<string, unknown>, cur = now as unknown as Record<string, unknown>;
  for (const key of Object.keys(cur)) {
    if (key === 'seed' || key === 'moe' || key === 'dtype') continue;
    if (saved[key] !== cur[key]) throw errors.checkpoint(path, `does not match this model: it has ${key} ${saved[key]}, this model ${cur[key]}`);
  }
  const a = saved.moe as { experts?: number; topk?: number } | undefined, b = now.moe;
  if (a?.experts !== b?.experts || a?.topk !== b?.topk) throw errors.checkpoint(path, `does not match this model: it has ${a?.experts} experts top-${a?.topk}, this model ${b?.experts} top-${b?.topk}`);
}
