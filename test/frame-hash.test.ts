import assert from 'node:assert/strict';
import { frameHash, frameHashTs } from '../src/hosts/frame-hash.js';
import { Rng } from '../src/nn/random.js';

describe('frame checksum (frames between hosts)', () => {
  const rng = new Rng(5);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(256));

  it('the SIMD kernel and the TypeScript reference agree to the bit, at any size and offset', () => {
    const buf = bytes(70_000);
    for (const n of [0, 1, 3, 4, 63, 64, 65, 127, 1000, 4096 + 17, 65_536]) {
      for (const at of [0, 1, 3, 8]) assert.equal(frameHash(buf, at, n), frameHashTs(buf, at, n), `${n} bytes from ${at}`);
    }
  });

  it('changes when any one byte does, and when bytes swap places', () => {
    const buf = bytes(1 << 16), h = frameHash(buf, 0, buf.length);
    for (const i of [0, 5, 63, 64, 1000, buf.length - 1]) {
      const c = buf.slice();
      c[i] ^= 0x10;
      assert.notEqual(frameHash(c, 0, c.length), h, `byte ${i}`);
    }
    const s = buf.slice();
    s.set(buf.subarray(64, 128), 0);
    s.set(buf.subarray(0, 64), 64);
    assert.notEqual(frameHash(s, 0, s.length), h, 'two 64-byte blocks swapped');
  });

  it('hashes a payload larger than its memory in TypeScript, with the same result', () => {
    const big = new Uint8Array(66 << 20).fill(7); // above the kernel memory's 64 MiB and change
    assert.equal(frameHash(big, 0, big.length), frameHashTs(big, 0, big.length));
  });
});
