import assert from 'node:assert/strict';
import { copyBytes } from '../src/runtime/copy.js';

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
