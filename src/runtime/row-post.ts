/**
 * Tensor messages to actors, delivered by the all-to-all. Within one pass every device hands the
 * post the row messages it has for actors anywhere (an MoE layer: each expert replica's rows); the
 * post puts all messages from this device to each other device into one frame (a header naming
 * each message's actor and rows, then the rows end to end), the runtime's all-to-all carries the
 * frames, and each device hands every actor addressed to it all its rows at once, sources in
 * ascending device order. The actors' replies travel back the same way, one frame per pair, each
 * sender getting one reply per message in its own order. A message to an actor on the same device
 * is a direct call on the caller's own tensor: no frame, no copy.
 *
 * Row messages are collective: every device of the group calls `exchange` for the same passes in
 * the same order, with or without messages of its own (it may be sent some). On a recording tape
 * the exchange is one op: its backward is an exchange of the replies' gradients to the same actors
 * (`kind: 'backward'`), which answer with their inputs' gradients.
 */
import { errors } from '../errors.js';
import { currentTape } from '../autograd/tape.js';
import { Tensor, type F32 } from '../tensor/tensor.js';
import type { ActorRef } from './actor.js';
import type { Collectives } from './collectives.js';

/** What an actor that takes row messages does with them (an expert actor; a shadow copy). */
export interface RowHandler {
  /**
   * Rows [n, cols] in, rows [n, outCols] out. `forward` may keep what its `backward` for the same
   * `pass` needs; `backward` gets the gradient of its forward's output and answers with its input's.
   */
  rows(kind: RowKind, x: F32, pass: number): Promise<F32>;
}

export type RowKind = 'forward' | 'backward';

export interface RowMessage {
  /** An actor anywhere, or a handler on this device (scratch work that never leaves it). */
  to: ActorRef | RowHandler;
  /** Rows [n, cols] (n may be 0). */
  x: F32;
  /** The actor runs on at least this many rows, zeros after the real ones (padded dispatch). */
  minRows?: number;
}

/** One delivery: every segment addressed to one actor in one pass, sources ascending. */
interface Delivery {
  handler: RowHandler;
  what: string;
  minRows: number;
  cols: number;
  dtype: F32['dtype'];
  segs: Segment[];
}

/** Rows for one actor from one message: a sender's own tensor, or a stretch of a peer's frame. */
interface Segment {
  src: number;
  rows: number;
  /** The sender's own tensor (a message on this device), else the frame's values from `at`. */
  x?: F32;
  data: Float32Array | Float64Array;
  at: number;
  /** Where the segment's rows start in its actor's input (and so in its reply). */
  from: number;
  /** For a message on this device: hands it its reply. */
  reply?: (y: F32) => void;
}

/** Header words per segment: actor number, incarnation, rows, minimum rows. */
const SEG = 4;
/** The first value of a frame that carries a failure instead of rows. */
const FAILED = -1;

export class RowPost {
  constructor(
    private readonly collectives: Collectives,
    /** An actor on this device able to take rows, or undefined (not here, or not a row handler). */
    private readonly resolve: (ref: ActorRef) => RowHandler | undefined,
    private readonly name = 'row post',
  ) {}

  private get device(): number {
    return this.collectives.device;
  }

  /**
   * Delivers `messages` and returns one reply per message, in order. Records itself on the current
   * tape, if any, so that the backward pass delivers the replies' gradients the same way. `report`
   * hears, after each delivery, how long this device's actors took and how many rows they ran
   * (padding included).
   */
  async exchange(pass: number, messages: readonly RowMessage[], report?: (kind: RowKind, handlerMs: number, rows: number) => void): Promise<F32[]> {
    const replies = await this.deliver('forward', pass, messages, report);
    currentTape()?.record(messages.map((m) => m.x), replies, async (dOut) => this.deliver('backward', pass, messages.map((m, i) => ({ ...m, x: dOut[i]! })), report), { always: true });
    return replies;
  }

  private async deliver(kind: RowKind, pass: number, messages: readonly RowMessage[], report?: (kind: RowKind, handlerMs: number, rows: number) => void): Promise<F32[]> {
    const me = this.device, D = this.collectives.devices;
    const replies: (F32 | null)[] = messages.map(() => null);
    const perPeer: number[][] = Array.from({ length: D }, () => []);
    const deliveries = new Map<unknown, Delivery>();
    // A failure anywhere still completes both exchanges, with frames that carry it: every device
    // then fails with the reason, and none waits for a frame that will not come.
    let failure: Error | null = null;
    let frames: F32[];
    try {
      this.sort(messages, perPeer, deliveries, replies);
      frames = perPeer.map((idx, d) => (d === me ? (Tensor.zeros([0]) as F32) : frameOf(messages, idx, this.name)));
    } catch (e) {
      failure = e as Error;
      frames = perPeer.map(() => failed(failure!));
    }
    const got = (await this.collectives.allToAll(frames)) as F32[];
    const incoming = got.map((f, src) => {
      if (src === me || failure) return [];
      try {
        if (f.size && f.data[0] === FAILED) throw errors.collective(`${this.name}: device ${src} could not send its rows: ${reason(f)}`);
        return this.unpack(f, src, deliveries);
      } catch (e) {
        failure = e as Error;
        return [];
      }
    });
    const outputs = new Map<Delivery, F32>();
    if (!failure) {
      try {
        await this.run(kind, pass, deliveries, outputs, report);
      } catch (e) {
        failure = e as Error;
      }
    }
    const back = got.map((f, src) => {
      if (src === me) return Tensor.zeros([0]) as F32;
      this.collectives.release(f);
      return failure ? failed(failure) : replyFrame(incoming[src]!, outputs);
    });
    const answers = (await this.collectives.allToAll(back)) as F32[];
    if (failure) {
      answers.forEach((a, peer) => peer !== me && this.collectives.release(a));
      throw failure;
    }
    answers.forEach((a, peer) => {
      if (peer === me) return;
      if (a.data[0] === FAILED) {
        const why = reason(a);
        this.collectives.release(a);
        throw errors.collective(`${this.name}: device ${peer} could not answer this device's rows: ${why}`);
      }
      const idx = perPeer[peer]!;
      let total = 0;
      for (const i of idx) total += messages[i]!.x.rows;
      const cols = total ? (a.size - 1) / total : 0;
      if (!Number.isInteger(cols)) throw errors.collective(`${this.name}: device ${peer} answered ${a.size - 1} values for ${total} rows`);
      // One copy off the channel pool; each message's reply is a view of it.
      const own = Tensor.empty([total, cols], a.dtype) as F32;
      own.data.set(a.data.subarray(1));
      this.collectives.release(a);
      let at = 0;
      for (const i of idx) {
        const n = messages[i]!.x.rows;
        replies[i] = new Tensor(own.dtype, [n, cols], own.data.subarray(at * cols, (at + n) * cols)) as F32;
        at += n;
      }
    });
    return replies.map((r, i) => r ?? empty(messages[i]!.x));
  }

  /** Files each message: to a peer (`perPeer`), or to an actor or handler here (`deliveries`), or answered at once (no rows). */
  private sort(messages: readonly RowMessage[], perPeer: number[][], deliveries: Map<unknown, Delivery>, replies: (F32 | null)[]): void {
    const me = this.device, D = this.collectives.devices;
    messages.forEach((m, i) => {
      const local = isHandler(m.to), ref = m.to as ActorRef;
      const dev = local ? me : ref.device;
      if (!Number.isInteger(dev) || dev < 0 || dev >= D) throw errors.badDevice(dev, D);
      if (m.x.rank !== 2) throw errors.badShape(this.name, m.x.shape, '[rows, cols]');
      if (dev !== me) return void perPeer[dev]!.push(i);
      if (m.x.rows === 0 && !m.minRows) return void (replies[i] = empty(m.x));
      const key = local ? m.to : ref.id;
      const d = deliveries.get(key) ?? this.open(deliveries, key, local ? (m.to as RowHandler) : this.handlerOf(ref, 'itself'), local ? 'a handler on this device' : ref.id, m.x.cols, m.x.dtype);
      this.add(d, { src: me, rows: m.x.rows, x: m.x, data: m.x.data, at: 0, from: 0, reply: (y) => void (replies[i] = y) }, m.minRows ?? 0, m.x.cols, m.x.dtype);
    });
  }

  /** Runs every actor addressed here on all its rows, in the order of its first segment's source (the same order every run). */
  private async run(kind: RowKind, pass: number, deliveries: Map<unknown, Delivery>, outputs: Map<Delivery, F32>, report?: (kind: RowKind, handlerMs: number, rows: number) => void): Promise<void> {
    // Each actor's rows by source, ascending (this device's own were filed before the peers' frames came).
    for (const d of deliveries.values()) d.segs.sort((a, b) => a.src - b.src);
    const ordered = [...deliveries.values()].sort((a, b) => a.segs[0]!.src - b.segs[0]!.src);
    const t0 = performance.now();
    let rows = 0;
    for (const d of ordered) {
      const n = d.segs.reduce((s, g) => s + g.rows, 0), want = Math.max(n, d.minRows);
      const y = await d.handler.rows(kind, gather(d, n, want), pass);
      if (y.rows !== want) throw errors.badArgument(this.name, `${d.what} answered ${y.rows} rows for ${want}`);
      rows += want;
      outputs.set(d, y);
      let from = 0;
      for (const s of d.segs) {
        s.from = from;
        from += s.rows;
        s.reply?.(d.segs.length === 1 && s.rows === want ? y : rowsOf(y, s.from, s.rows));
      }
    }
    report?.(kind, performance.now() - t0, rows);
  }

  private open(deliveries: Map<unknown, Delivery>, key: unknown, handler: RowHandler, what: string, cols: number, dtype: F32['dtype']): Delivery {
    const d: Delivery = { handler, what, minRows: 0, cols, dtype, segs: [] };
    deliveries.set(key, d);
    return d;
  }

  private add(d: Delivery, s: Segment, minRows: number, cols: number, dtype: F32['dtype']): void {
    if (cols !== d.cols || dtype !== d.dtype) throw errors.badArgument(this.name, `rows for ${d.what} of width ${cols} (${dtype}) after rows of width ${d.cols} (${d.dtype})`);
    d.minRows = Math.max(d.minRows, minRows);
    d.segs.push(s);
  }

  private handlerOf(ref: ActorRef, from: number | 'itself'): RowHandler {
    const h = this.resolve(ref);
    if (!h) throw errors.badArgument(this.name, `device ${this.device} got rows from ${from === 'itself' ? 'itself' : `device ${from}`} for actor ${ref.id} (incarnation ${ref.incarnation}), which is not a row-taking actor on it`);
    return h;
  }

  /** Files a peer's frame under the actors it names; returns its segments in frame order. */
  private unpack(f: F32, src: number, deliveries: Map<unknown, Delivery>): { d: Delivery; s: Segment }[] {
    const h = f.data, out: { d: Delivery; s: Segment }[] = [];
    if (h.length === 0) return out;
    const n = h[0]!, cols = h[1]!;
    let at = 2 + n * SEG;
    for (let k = 0; k < n; k++) {
      const w = 2 + k * SEG;
      const id = `a${h[w]!}`, incarnation = h[w + 1]!, rows = h[w + 2]!, minRows = h[w + 3]!;
      const d = deliveries.get(id) ?? this.open(deliveries, id, this.handlerOf({ id, device: this.device, incarnation }, src), id, cols, f.dtype);
      const s: Segment = { src, rows, data: h, at, from: 0 };
      this.add(d, s, minRows, cols, f.dtype);
      at += rows * cols;
      out.push({ d, s });
    }
    if (at !== h.length) throw errors.collective(`${this.name}: the frame from device ${src} holds ${h.length} values; its header accounts for ${at}`);
    return out;
  }
}

function isHandler(to: RowMessage['to']): to is RowHandler {
  return typeof (to as RowHandler).rows === 'function';
}

function empty(x: F32): F32 {
  return Tensor.zeros([0, x.cols], x.dtype) as F32;
}

/** Rows [from, from + n) of y, as a view. */
function rowsOf(y: F32, from: number, n: number): F32 {
  const c = y.cols;
  return new Tensor(y.dtype, [n, c], y.data.subarray(from * c, (from + n) * c)) as F32;
}

/** [n, cols, (actor, incarnation, rows, minRows) × n, rows…]: the messages in `idx`, in order (empty: no messages). */
function frameOf(messages: readonly RowMessage[], idx: readonly number[], name: string): F32 {
  if (!idx.length) return Tensor.zeros([0]) as F32;
  const first = messages[idx[0]!]!.x, cols = first.cols, dtype = first.dtype;
  let total = 0;
  for (const i of idx) {
    const x = messages[i]!.x;
    if (x.cols !== cols || x.dtype !== dtype) throw errors.badArgument(name, `messages to one device must share width and dtype: ${x} after [·, ${cols}] ${dtype}`);
    total += x.rows;
  }
  const head = 2 + idx.length * SEG;
  const f = Tensor.empty([head + total * cols], dtype) as F32;
  const h = f.data;
  h[0] = idx.length;
  h[1] = cols;
  let at = head;
  idx.forEach((i, k) => {
    const m = messages[i]!, ref = m.to as ActorRef;
    // Header words are floats: a number past 2^24 would not survive an f32 frame.
    const num = Number(ref.id.slice(1));
    if (!(num < 1 << 24)) throw errors.badArgument(name, `actor ${ref.id} cannot be named in a row frame (ids up to a${(1 << 24) - 1})`);
    h.set([num, ref.incarnation, m.x.rows, m.minRows ?? 0], 2 + k * SEG);
    h.set(m.x.data.subarray(0, m.x.rows * cols), at);
    at += m.x.rows * cols;
  });
  return f;
}

/** One actor's input: its segments end to end (the sender's own tensor when it is the only one), zeros up to `rows`. */
function gather(d: Delivery, n: number, rows: number): F32 {
  const only = d.segs.length === 1 ? d.segs[0]! : null;
  if (only?.x && rows === n) return only.x;
  const x = Tensor.empty([rows, d.cols], d.dtype) as F32;
  let at = 0;
  for (const s of d.segs) {
    x.data.set(s.data.subarray(s.at, s.at + s.rows * d.cols), at * d.cols);
    at += s.rows;
  }
  x.data.fill(0, n * d.cols); // the padding rows
  return x;
}

/** A frame saying this device failed, and why (its first value is FAILED, then the reason's character codes). */
function failed(e: Error): F32 {
  const text = e.message.slice(0, 400);
  return Tensor.from([FAILED, ...Array.from(text, (c) => c.charCodeAt(0))]) as F32;
}

function reason(f: F32): string {
  return String.fromCharCode(...Array.from(f.data.subarray(1), (v) => v));
}

/** A peer's replies after a status word (0): each of its segments' rows of its actor's output, in its frame's order. */
function replyFrame(segs: readonly { d: Delivery; s: Segment }[], outputs: Map<Delivery, F32>): F32 {
  if (!segs.length) return Tensor.zeros([1]) as F32;
  let total = 0;
  for (const { s } of segs) total += s.rows;
  const first = outputs.get(segs[0]!.d)!, cols = first.cols;
  const f = Tensor.empty([1 + total * cols], first.dtype) as F32;
  f.data[0] = 0;
  let at = 1;
  for (const { d, s } of segs) {
    const y = outputs.get(d)!;
    if (y.cols !== cols) throw errors.badArgument('row post', `${d.what} answered rows of width ${y.cols}; others to the same device answered ${cols}`);
    f.data.set(y.data.subarray(s.from * cols, (s.from + s.rows) * cols), at);
    at += s.rows * cols;
  }
  return f;
}
