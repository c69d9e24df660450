import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { copyBytes, copyIntoBuffer } from '../src/runtime/copy.js';

const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

describe('copyBytes (shared-memory copies)', () => {
  for (const n of [0, 1, 100, 8191, 8192, 65536 + 3]) {
    it(`copies ${n} bytes into and out of a SharedArrayBuffer at an offset, touching nothing else`, () => {
      const src = pattern(n, 7);
      const shared = new Uint8Array(new SharedArrayBuffer(n + 64), 16, n + 32).fill(0xee);
      copyBytes(shared, src, 8);
      assert.deepEqual(shared.subarray(8, 8 + n), src);
      assert.ok(shared.subarray(0, 8).every((v) => v === 0xee) && shared.subarray(8 + n).every((v) => v === 0xee), 'bytes around the copy unchanged');
      const back = new Uint8Array(n);
      copyBytes(back, shared.subarray(8, 8 + n));
      assert.deepEqual(back, src);
    });
  }

  it('overlapping ranges of one shared buffer copy as set does (memmove semantics)', () => {
    const sab = new SharedArrayBuffer(16384);
    const all = new Uint8Array(sab);
    all.set(pattern(16384, 3));
    const expected = Uint8Array.from(all);
    expected.set(expected.slice(0, 8192), 100);
    copyBytes(all.subarray(100, 8292), all.subarray(0, 8192));
    assert.deepEqual(all, expected);
  });

  it('refuses a copy that does not fit, naming the sizes', () => {
    assert.throws(() => copyBytes(new Uint8Array(new SharedArrayBuffer(4096)), new Uint8Array(4096), 1), /4096 bytes at 1 do not fit in 4096/);
  });
});

describe('copyIntoBuffer (a ring writer\'s cached view)', () => {
  for (const n of [0, 100, 8192, 65536 + 3]) {
    it(`copies ${n} bytes of any typed array into a Buffer over shared memory at an offset, touching nothing else`, () => {
      const src = new Float32Array(pattern(n + (4 - (n % 4)) % 4, 5).buffer).subarray(0, Math.floor(n / 4));
      const bytes = src.byteLength;
      const dst = Buffer.from(new SharedArrayBuffer(bytes + 64), 16, bytes + 32).fill(0xee);
      copyIntoBuffer(dst, src, 8);
      assert.deepEqual(new Uint8Array(dst.buffer, dst.byteOffset + 8, bytes), new Uint8Array(src.buffer, src.byteOffset, bytes));
      assert.ok(dst.subarray(0, 8).every((v) => v === 0xee) && dst.subarray(8 + bytes).every((v) => v === 0xee), 'bytes around the copy unchanged');
    });
  }

  it('copies a source inside the same shared buffer as set does, and refuses one that does not fit', () => {
    const sab = new SharedArrayBuffer(32768);
    const all = Buffer.from(sab).fill(0);
    all.set(pattern(16384, 9));
    const expected = Uint8Array.from(all);
    expected.set(expected.slice(0, 16384), 100);
    copyIntoBuffer(all, new Uint8Array(sab, 0, 16384), 100);
    assert.deepEqual(new Uint8Array(all), expected);
    assert.throws(() => copyIntoBuffer(Buffer.from(new SharedArrayBuffer(4096)), new Uint8Array(4096), 1), /4096 bytes at 1 do not fit in 4096/);
  });
});
