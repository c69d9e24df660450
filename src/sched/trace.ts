import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { errors } from '../errors.js';
import type { Counts, RoutingSource } from './workload.js';

/** Bounds on what a trace may declare (read before anything is sized from it). */
const MAX_EXPERTS = 1 << 16, MAX_LAYERS = 1 << 12, MAX_DEVICES = 1 << 16, MAX_STEPS = 1 << 20;
/** A token count: finite (JSON's 1e400 parses as Infinity), non-negative, exact in a double. */
const isCount = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v <= Number.MAX_SAFE_INTEGER;

/**
 * Routing traces, JSON Lines: a header `{"format":"flexmoe-trace/1","experts":E,"layers":L,"topk":k,"sourceDevices":D}`,
 * then one line per step and layer `{"step":s,"layer":l,"counts":C}`, C either E numbers
 * (assignments per expert) or a D×E matrix (per source device and expert).
 */
export interface TraceHeader {
  format: 'flexmoe-trace/1';
  experts: number;
  layers: number;
  topk: number;
  sourceDevices: number;
}

export class TraceSource implements RoutingSource {
  readonly experts: number;
  readonly topk: number;
  readonly layers: number;
  readonly steps: number;
  private readonly rows: (number[] | number[][])[][]; // [step][layer]

  constructor(readonly header: TraceHeader, rows: (number[] | number[][])[][]) {
    this.experts = header.experts;
    this.topk = header.topk;
    this.layers = header.layers;
    this.rows = rows;
    this.steps = rows.length;
  }

  /** Parses a whole trace; errors name the line and what is wrong with it. */
  static parse(text: string, file = 'trace'): TraceSource {
    const lines = text.split('\n').filter((l) => l.trim());
    const json = (i: number) => {
      try {
        return JSON.parse(lines[i]!);
      } catch {
        throw errors.badArgument(file, `line ${i + 1} is not JSON`);
      }
    };
    if (!lines.length) throw errors.badArgument(file, 'empty trace');
    const h = json(0) as TraceHeader;
    if (h?.format !== 'flexmoe-trace/1') throw errors.badArgument(file, `line 1: unknown format ${JSON.stringify(h?.format)}; expected "flexmoe-trace/1"`);
    // Bounded before anything is allocated from them: a header of 1e9 experts would exhaust memory.
    for (const [k, max] of [['experts', MAX_EXPERTS], ['layers', MAX_LAYERS], ['topk', MAX_EXPERTS], ['sourceDevices', MAX_DEVICES]] as const) {
      if (!Number.isInteger(h[k]) || h[k] < 1 || h[k] > max) throw errors.badArgument(file, `line 1: header field "${k}" must be an integer from 1 to ${max} (got ${typeof h[k] === 'number' ? String(h[k]) : JSON.stringify(h[k])})`);
    }
    if (h.topk > h.experts) throw errors.badArgument(file, `line 1: topk ${h.topk} is more than the ${h.experts} experts`);
    if (lines.length - 1 > MAX_STEPS * h.layers) throw errors.badArgument(file, `holds ${lines.length - 1} rows; at most ${MAX_STEPS} steps of ${h.layers} layers are read`);
    const rows: (number[] | number[][])[][] = [];
    for (let i = 1; i < lines.length; i++) {
      const r = (json(i) ?? {}) as { step: number; layer: number; counts: number[] | number[][] };
      if (!Number.isInteger(r.step) || r.step < 0 || r.step >= MAX_STEPS || !Number.isInteger(r.layer) || r.layer < 0 || r.layer >= h.layers) {
        throw errors.badArgument(file, `line ${i + 1}: step and layer must be integers, step < ${MAX_STEPS}, layer < ${h.layers}`);
      }
      const c = r.counts;
      const ok = Array.isArray(c) && (c.length === h.experts && c.every(isCount)
        || c.length === h.sourceDevices && c.every((row) => Array.isArray(row) && row.length === h.experts && row.every(isCount)));
      if (!ok) throw errors.badArgument(file, `line ${i + 1}: counts must be ${h.experts} finite, non-negative numbers up to 2^53 or a ${h.sourceDevices}×${h.experts} matrix of them`);
      (rows[r.step] ??= [])[r.layer] = c;
    }
    for (let s = 0; s < rows.length; s++) {
      for (let l = 0; l < h.layers; l++) if (!rows[s]?.[l]) throw errors.badArgument(file, `step ${s} layer ${l} is missing`);
    }
    return new TraceSource(h, rows);
  }

  static read(path: string): TraceSource {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw errors.badArgument('trace', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return TraceSource.parse(text, path);
  }

  /**
   * Counts for `devices` sources. A recorded D×E matrix is used as is when D matches; otherwise
   * (and for per-expert totals) each expert's total is spread evenly over the sources.
   */
  at(step: number, devices: number): Counts[] {
    return this.rows[step % this.steps]!.map((c) => {
      if (Array.isArray(c[0]) && c.length === devices) return (c as number[][]).map((row) => Float64Array.from(row));
      const totals = Array.isArray(c[0]) ? (c as number[][]).reduce((acc, row) => acc.map((v, e) => v + row[e]!), new Array(this.experts).fill(0)) : (c as number[]);
      return Array.from({ length: devices }, () => Float64Array.from(totals, (v) => v / devices));
    });
  }
}

/** Appends routing to a trace file as training runs (`flexmoe train --record-trace FILE`). */
export class TraceWriter {
  private readonly out: WriteStream;

  constructor(path: string, header: Omit<TraceHeader, 'format'>) {
    this.out = createWriteStream(path);
    this.out.write(`${JSON.stringify({ format: 'flexmoe-trace/1', ...header })}\n`);
  }

  /** Records one step and layer: per-expert totals, or a [source][expert] matrix. */
  record(step: number, layer: number, counts: readonly ArrayLike<number>[] | ArrayLike<number>): void {
    const first = (counts as ArrayLike<unknown>)[0];
    const c = typeof first === 'number' ? Array.from(counts as ArrayLike<number>) : Array.from(counts as readonly ArrayLike<number>[], (r) => Array.from(r));
    this.out.write(`${JSON.stringify({ step, layer, counts: c })}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}

