import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { Tensor } from '../src/tensor/tensor.js';
import { TensorPool } from '../src/tensor/pool.js';
import { Arena, currentArena } from '../src/tensor/arena.js';

describe('Tensor', () => {
  it('prints compactly', () => {
    const t = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
    assert.equal(String(t), 'Tensor<f32>[2,3]');
    assert.equal(inspect(t), 'Tensor<f32>[2,3] {1, 2, 3, 4, …}');
    assert.equal(String(Tensor.zeros([4], 'i32')), 'Tensor<i32>[4]');
  });

  it('views a SharedArrayBuffer without copying', () => {
    const sab = new SharedArrayBuffer(64);
    const t = Tensor.view(sab, 16, [2, 2], 'f32');
    new Float32Array(sab)[4] = 7;
    assert.equal(t.at(0, 0), 7);
    assert.ok(t.isShared);
    t.data[3] = 9;
    assert.equal(new Float32Array(sab)[7], 9);
  });

  it('reshape shares storage; a wrong element count names both shapes', () => {
    const t = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
    const r = t.reshape([3, 2]);
    r.data[0] = 42;
    assert.equal(t.data[0], 42);
    assert.throws(() => t.reshape([4, 2]), /reshape: shape mismatch, element count: \[2,3\] vs \[4,2\]/);
  });

  it('rejects data that does not fit the shape or dtype', () => {
    assert.throws(() => new Tensor('f32', [2, 2], new Float32Array(3)), /shape \[2,2\] needs 4 elements, got 3/);
    assert.throws(() => new Tensor('i32', [2], new Float32Array(2) as never), /wrong dtype Float32Array, expected i32/);
    assert.throws(() => Tensor.zeros([2, -1]), /bad shape \[2,-1\]/);
  });

  it('supports empty tensors (T = 0)', () => {
    const t = Tensor.zeros([0, 8]);
    assert.equal(t.size, 0);
    assert.equal(t.rows, 0);
    assert.equal(t.cols, 8);
  });
});

describe('TensorPool', () => {
  it('reuses released storage and hands it back zeroed', () => {
    const pool = new TensorPool();
    const a = pool.alloc([64, 32]);
    a.data.fill(3);
    pool.release(a);
    const b = pool.alloc([60, 30]); // same size class
    assert.equal(b.data.buffer, a.data.buffer);
    assert.ok(b.data.every((v) => v === 0));
    assert.equal(pool.hits, 1);
    assert.equal(pool.misses, 1);
  });

  it('refuses foreign tensors and double releases', () => {
    const pool = new TensorPool();
    assert.throws(() => pool.release(Tensor.zeros([4])), /was not allocated by this pool/);
    const a = pool.alloc([4]);
    pool.release(a);
    assert.throws(() => pool.release(a), /released twice/);
  });
});

describe('Arena', () => {
  it('serves the allocations of its async context, recycles them after reset, and nothing outside', async () => {
    const arena = new Arena();
    const pass = () =>
      arena.run(async () => {
        const a = Tensor.zeros([64, 32]);
        await new Promise((r) => setImmediate(r)); // across an await, still the arena's
        const b = Tensor.empty([100]);
        a.data.fill(7);
        return [a, b];
      });
    const [a1] = await pass();
    const first = arena.pool.freshBytes;
    assert.equal(first, 8192 + 512, 'two buffers, rounded up to powers of two');
    assert.equal(currentArena(), undefined);
    assert.equal(Tensor.zeros([64, 32]).data.buffer === a1!.data.buffer, false, 'outside run: fresh memory');
    arena.reset();
    for (let i = 0; i < 5; i++) {
      const [a] = await pass();
      assert.equal(a!.data.buffer, a1!.data.buffer, 'the same storage, pass after pass');
      arena.reset();
    }
    assert.equal(arena.pool.freshBytes, first, 'no new memory once the shapes repeat');
    assert.equal(arena.pool.hits, 10);
    const z = await arena.run(async () => Tensor.zeros([64, 32]));
    assert.ok(z.data.every((v) => v === 0), 'zeros are zeroed even on recycled storage');
  });

  it('use() gives the storage back even when the pass fails', async () => {
    const arena = new Arena();
    let kept: Tensor | null = null;
    await assert.rejects(arena.use(async () => {
      kept = Tensor.zeros([16]);
      throw new Error('pass failed');
    }), /pass failed/);
    const again = await arena.use(async () => Tensor.zeros([16]));
    assert.equal(again.data.buffer, kept!.data.buffer);
    assert.equal(arena.pool.misses, 1);
  });
});
