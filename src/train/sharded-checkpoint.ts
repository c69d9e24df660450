import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errors } from '../errors.js';
import { loadCheckpoint, loadCheckpointShared, removeStaleTemps, type LoadedCheckpoint } from './checkpoint.js';

/**
 * Sharded checkpoints: every device writes its share of the state to a file of its own (the
 * single-file container of checkpoint.ts, atomic, checksummed) in parallel, and a small JSON
 * manifest at the checkpoint's path ties the shards together: the run's meta, and per shard its file,
 * the tensors it holds and its checksum. Shard files carry the save's id in their names, so a new
 * save never overwrites the shards the current manifest points to; the manifest is renamed into
 * place last, and only then are the old shards removed. A run killed at any point leaves the
 * previous checkpoint loadable.
 */
export const MANIFEST_FORMAT = 'flexmoe-checkpoint-manifest/1';

export interface ShardEntry {
  /** File name, beside the manifest. */
  file: string;
  device: number;
  /** The shard's blob checksum (its header's) and size in bytes. */
  checksum: string;
  bytes: number;
  tensors: string[];
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  meta: Record<string, unknown>;
  shards: ShardEntry[];
}

/** Where device `device`'s shard of save `id` goes. */
export function shardFile(path: string, id: string, device: number): string {
  return join(dirname(path), `${basename(path)}.shard-${id}-${device}`);
}

/** A fresh id per save (the step, then something no earlier save of this path used). */
export function saveId(step: number): string {
  return `${step}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}

/** Whether the file at `path` is a manifest (JSON) rather than a single-file checkpoint. */
export function isManifest(path: string): boolean {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(1);
    return readSync(fd, b, 0, 1, 0) === 1 && b[0] === 0x7b; // '{'
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Writes the manifest atomically (temporary file, fsync, rename), then removes shards it no longer points to. */
export function writeManifest(path: string, meta: Record<string, unknown>, shards: ShardEntry[]): void {
  const manifest: Manifest = { format: MANIFEST_FORMAT, meta, shards: [...shards].sort((a, b) => a.device - b.device) };
  removeStaleTemps(path);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, Buffer.from(JSON.stringify(manifest), 'utf8'));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  removeUnreferencedShards(path, new Set(shards.map((s) => s.file)));
}

/** Shard files (and their temporaries) beside `path` that `keep` does not name: from earlier saves or a killed run. */
export function removeUnreferencedShards(path: string, keep: Set<string>): number {
  const dir = dirname(path), prefix = `${basename(path)}.shard-`;
  let removed = 0;
  for (const name of safeList(dir)) {
    if (!name.startsWith(prefix) || keep.has(name)) continue;
    try {
      unlinkSync(join(dir, name));
      removed++;
    } catch {
      // Gone already: nothing to do.
    }
  }
  return removed;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Reads and checks a manifest's structure; an error names what is wrong. */
export function readManifest(path: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch (e) {
    throw errors.checkpoint(path, `is not a readable checkpoint manifest (${(e as NodeJS.ErrnoException).code ?? 'invalid JSON'})`);
  }
  if (m?.format !== MANIFEST_FORMAT) throw errors.checkpoint(path, `has format ${JSON.stringify(m?.format)}, expected ${MANIFEST_FORMAT}`);
  if (!m.meta || typeof m.meta !== 'object' || !Array.isArray(m.shards) || m.shards.length === 0) throw errors.checkpoint(path, 'is a manifest without meta or shards');
  const seen = new Set<string>();
  for (const s of m.shards) {
    // Shards lie beside their manifest: a bare file name, never a path.
    if (typeof s?.file !== 'string' || !/\.shard-/.test(s.file) || s.file.includes('/') || s.file.includes('\\') || s.file.startsWith('.')) throw errors.checkpoint(path, `names a shard file ${JSON.stringify(s?.file)} that does not lie beside it`);
    if (typeof s.checksum !== 'string' || !Array.isArray(s.tensors)) throw errors.checkpoint(path, `lists shard ${s.file} without its checksum or tensors`);
    for (const t of s.tensors) {
      if (seen.has(t)) throw errors.checkpoint(path, `lists tensor ${t} in two shards`);
      seen.add(t);
    }
  }
  return m;
}

/** A shard as its manifest describes it: loaded, and checked to be the very file the manifest was written with. */
function loadShard(path: string, s: ShardEntry, shared: boolean): LoadedCheckpoint {
  const file = join(dirname(path), s.file);
  const ckpt = shared ? loadCheckpointShared(file) : loadCheckpoint(file);
  const names = [...ckpt.tensors.keys()].sort(), listed = [...s.tensors].sort();
  if (ckpt.checksum !== s.checksum) throw errors.checkpoint(path, `shard ${s.file} is not the one this manifest was written with`);
  if (names.length !== listed.length || names.some((n, i) => n !== listed[i])) throw errors.checkpoint(path, `shard ${s.file} holds other tensors than its manifest lists`);
  return ckpt;
}

/** Every shard of a manifest, merged (for readers that want the whole checkpoint: serving, tools). */
export function loadSharded(path: string, shared = false): LoadedCheckpoint {
  const m = readManifest(path);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const s of m.shards) for (const [k, v] of loadShard(path, s, shared).tensors) tensors.set(k, v);
  return { meta: m.meta, tensors };
}

/**
 * The tensors named `names` (and only the shards holding them are read), on whichever thread asks:
 * how a device resumes. A single-file checkpoint is read whole.
 */
export function loadTensors(path: string, names: Iterable<string>): LoadedCheckpoint {
  if (!isManifest(path)) return loadCheckpointShared(path);
  const m = readManifest(path);
  const wanted = new Set(names);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const s of m.shards) {
    if (!s.tensors.some((t) => wanted.has(t))) continue;
    for (const [k, v] of loadShard(path, s, true).tensors) if (wanted.has(k)) tensors.set(k, v);
  }
  return { meta: m.meta, tensors };
}

/**
 * What a checkpoint is, without reading its tensors where it is sharded: its meta and the names of
 * its tensors, each shard checked to be there at the size its manifest says (the devices verify
 * checksums as they read). A single-file checkpoint is read and verified whole.
 */
export function checkpointInfo(path: string): { meta: Record<string, unknown>; names: string[] } {
  if (!isManifest(path)) {
    const c = loadCheckpoint(path);
    return { meta: c.meta, names: [...c.tensors.keys()] };
  }
  const m = readManifest(path);
  for (const s of m.shards) {
    let size: number;
    try {
      size = statSync(join(dirname(path), s.file)).size;
    } catch (e) {
      throw errors.checkpoint(path, `lacks its shard ${s.file} (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
    if (size !== s.bytes) throw errors.checkpoint(path, `has shard ${s.file} of ${size} bytes; its manifest says ${s.bytes}`);
  }
  return { meta: m.meta, names: m.shards.flatMap((s) => s.tensors) };
}
