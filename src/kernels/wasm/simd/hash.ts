// A 32-bit checksum of bytes, for frames between hosts (src/hosts/frame-hash.ts): FNV-1a's step,
// h = (h ^ word) × prime, in 16 independent lanes over 32-bit words, folded at the end. Each step is
// a bijection in the word, so a change to any one word always changes the result; the lanes keep
// the multiplier busy instead of waiting on one serial chain.

const PRIME: i32 = 0x01000193;

export function frameHash(p: usize, n: i32): i32 {
  const prime = i32x4.splat(PRIME);
  let a = i32x4(0x811c9dc5, 0x050c5d1f, 0x2c4c1cd3, 0x6b8b4567);
  let b = i32x4(0x327b23c6, 0x643c9869, 0x66334873, 0x74b0dc51);
  let c = i32x4(0x19495cff, 0x2ae8944a, 0x625558ec, 0x238e1f29);
  let d = i32x4(0x46e87ccd, 0x3d1b58ba, 0x507ed7ab, 0x2eb141f2);
  const blocks = <usize>(n >> 6) << 6;
  for (let o: usize = 0; o < blocks; o += 64) {
    a = i32x4.mul(v128.xor(a, v128.load(p + o)), prime);
    b = i32x4.mul(v128.xor(b, v128.load(p + o + 16)), prime);
    c = i32x4.mul(v128.xor(c, v128.load(p + o + 32)), prime);
    d = i32x4.mul(v128.xor(d, v128.load(p + o + 48)), prime);
  }
  let h: i32 = 0x811c9dc5;
  h = fold(fold(fold(fold(h, a), b), c), d);
  // The tail: whole words, then single bytes.
  let o = blocks;
  const words = <usize>(n >> 2) << 2;
  for (; o < words; o += 4) h = (h ^ load<i32>(p + o)) * PRIME;
  for (; o < <usize>n; o++) h = (h ^ <i32>load<u8>(p + o)) * PRIME;
  return h;
}

function fold(h: i32, v: v128): i32 {
  h = (h ^ i32x4.extract_lane(v, 0)) * PRIME;
  h = (h ^ i32x4.extract_lane(v, 1)) * PRIME;
  h = (h ^ i32x4.extract_lane(v, 2)) * PRIME;
  return (h ^ i32x4.extract_lane(v, 3)) * PRIME;
}
