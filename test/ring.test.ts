import assert from 'node:assert/strict';
import { RingReader, RingWriter, payloadView, ringBytes, setSpinIterations, spinIterations, nextSpin, MAX_SPIN_FACTOR, CONTROL_BYTES, HEADER_BYTES } from '../src/runtime/ring.js';

const frame = (n: number, tag = 1) => ({ kind: 0, tag, dtype: 'f32' as const, shape: [n], payload: Float32Array.from({ length: n }, (_, i) => i + n) });

describe('SharedArrayBuffer ring', () => {
  it('wraps around many times with frames intact and in order', () => {
    const sab = new SharedArrayBuffer(CONTROL_BYTES + 4096);
    const w = new RingWriter(sab, 'a->b'), r = new RingReader(sab, 'a->b');
    for (let i = 0; i < 500; i++) {
      const n = 1 + ((i * 37) % 300);
      assert.ok(w.tryWrite(frame(n, i)), `frame ${i} fits in an empty ring`);
      const f = r.tryRead()!;
      assert.equal(f.seq, i);
      assert.equal(f.tag, i);
      assert.deepEqual(f.shape, [n]);
      const v = payloadView(f) as Float32Array;
      assert.equal(v.length, n);
      assert.equal(v[n - 1], n - 1 + n);
      assert.equal(v.byteOffset % 64, 0, 'payloads are 64-byte aligned');
      r.release(f);
    }
  });

  it('a full ring refuses tryWrite and makes write() wait until the reader frees space (nothing dropped)', async () => {
    const sab = new SharedArrayBuffer(CONTROL_BYTES + 4096);
    const w = new RingWriter(sab, 'a->b'), r = new RingReader(sab, 'a->b');
    let written = 0;
    while (w.tryWrite(frame(200, written))) written++;
    assert.ok(written >= 4 && written <= 5, `wrote ${written} frames of 864 bytes into 4096`);
    let done = false;
    const pending = w.write(frame(200, written)).then(() => (done = true));
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(done, false, 'the writer waits while the ring is full');
    const f = r.tryRead()!;
    r.release(f);
    await pending;
    assert.ok(w.fullWaits > 0);
    const tags: number[] = [f.tag];
    for (let g = r.tryRead(); g; g = r.tryRead()) {
      tags.push(g.tag);
      r.release(g);
    }
    assert.deepEqual(tags, [...Array(written + 1).keys()]);
  });

  it('names the channel and sequence number of a corrupt or truncated frame', () => {
    const sab = new SharedArrayBuffer(CONTROL_BYTES + 4096);
    const w = new RingWriter(sab, '0->1'), r = new RingReader(sab, '0->1');
    w.tryWrite(frame(4));
    r.release(r.tryRead()!);
    w.tryWrite(frame(4));
    const header = new Int32Array(sab, CONTROL_BYTES + 128, 16); // the second frame (the first took 128 bytes)
    header[7] = 999; // payload length, not matching the checksum
    assert.throws(() => r.tryRead(), /channel 0->1: corrupt frame at sequence 1: header checksum mismatch/);
    header[0] = 0;
    assert.throws(() => r.tryRead(), /channel 0->1: corrupt frame at sequence 1: bad magic/);
  });

  it('rejects frames larger than half the ring and bad ring sizes', () => {
    const sab = new SharedArrayBuffer(CONTROL_BYTES + 4096);
    const w = new RingWriter(sab, 'x');
    assert.throws(() => w.tryWrite(frame(600)), /channel x: frame payload of 2400 bytes exceeds the ring's 1984; send it in chunks/);
    assert.throws(() => new RingWriter(new SharedArrayBuffer(5000), 'y'), /channel y: ring of 5000 bytes/);
    assert.equal(ringBytes(1 << 20, 8) - CONTROL_BYTES, 16 << 20);
    assert.equal(HEADER_BYTES, 64);
  });

  it('read() waits for a frame without blocking the event loop', async () => {
    const sab = new SharedArrayBuffer(CONTROL_BYTES + 4096);
    const w = new RingWriter(sab, 'a'), r = new RingReader(sab, 'a');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const got = r.read();
    await new Promise((res) => setTimeout(res, 15));
    w.tryWrite(frame(3, 42));
    const f = (await got)!;
    clearInterval(timer);
    assert.equal(f.tag, 42);
    assert.ok(ticks > 0, 'timers ran while the reader waited');
  });

  it('a reader spins longer while frames keep arriving just after it parks, and resets after a long wait', () => {
    const base = spinIterations, max = base * MAX_SPIN_FACTOR;
    let spin = base;
    for (let i = 0; i < 3; i++) spin = nextSpin(spin, 0.05, true);
    assert.equal(spin, base * 8, 'doubled after each short park');
    for (let i = 0; i < 20; i++) spin = nextSpin(spin, 0.05, true);
    assert.equal(spin, max, 'bounded');
    assert.equal(nextSpin(spin, 5, true), base, 'a long park: the stream ended, back to the short spin');
    assert.equal(nextSpin(spin, 0.05, false), base, 'a timeout is no stream either');
  });

  it('a parked side is woken by its peer, never left to its timeout (notify only when the peer waits)', async () => {
    const sab = new SharedArrayBuffer(CONTROL_BYTES + 4096);
    const w = new RingWriter(sab, 'a'), r = new RingReader(sab, 'a');
    const spin = spinIterations;
    setSpinIterations(0); // park at once, so every wait depends on the peer's notify
    try {
      for (let i = 0; i < 20; i++) {
        // Reader parks on an empty ring; the writer publishes from a later turn of the event loop.
        const got = r.read();
        setImmediate(() => w.tryWrite(frame(3, i)));
        const f = (await got)!;
        assert.equal(f.tag, i);
        r.release(f);
        // Writer parks on a full ring; the reader frees space from a later turn.
        while (w.tryWrite(frame(200, -1))) undefined;
        const put = w.write(frame(200, i));
        setImmediate(() => {
          let g;
          while ((g = r.tryRead())) r.release(g);
        });
        await put;
        let g;
        while ((g = r.tryRead())) r.release(g);
      }
    } finally {
      setSpinIterations(spin);
    }
    assert.ok(r.emptyWaits >= 20 && w.fullWaits >= 20, 'both sides parked');
    assert.ok(w.wakes >= 20, `the writer counted the wake-ups it sent (${w.wakes})`);
    assert.equal(r.timeouts, 0, 'reader never waited out its timeout');
    assert.equal(w.timeouts, 0, 'writer never waited out its timeout');
  });
});
