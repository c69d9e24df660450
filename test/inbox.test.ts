import assert from 'node:assert/strict';
import { Inbox } from '../src/runtime/channels.js';
import { Tensor } from '../src/tensor/tensor.js';

describe('channel inbox', () => {
  it('keeps no entry behind once a (peer, tag) is delivered, in either order (a fresh tag per collective must not pile up)', async () => {
    const inbox = new Inbox();
    for (let tag = 0; tag < 1000; tag++) {
      const t = Tensor.from([tag]);
      if (tag % 2) {
        inbox.put(`0:${tag}`, t);
        assert.equal(await inbox.take(`0:${tag}`), t);
      } else {
        const got = inbox.take(`0:${tag}`);
        inbox.put(`0:${tag}`, t);
        assert.equal(await got, t);
      }
    }
    assert.equal(inbox.size, 0);
  });

  it('is first in, first out per key, and fails the waiters of a lost peer by name', async () => {
    const inbox = new Inbox();
    const a = Tensor.from([1]), b = Tensor.from([2]);
    inbox.put('1:7', a);
    inbox.put('1:7', b);
    assert.equal(await inbox.take('1:7'), a);
    assert.equal(await inbox.take('1:7'), b);
    const lost = inbox.take('2:9');
    inbox.failPeer(2, new Error('device 2 restarted'));
    await assert.rejects(lost, /device 2 restarted/);
    assert.equal(inbox.size, 0);
  });
});
