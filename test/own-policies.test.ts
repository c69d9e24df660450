import assert from 'node:assert/strict';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import type { CharTransformerConfig } from '../src/models/char-transformer.js';
import { clusterA100 } from '../src/sched/cost.js';
import { Placement } from '../src/sched/placement.js';
import { makePolicy, registerPolicy, userPolicies } from '../src/sched/policies/index.js';
import type { Policy } from '../src/sched/policy.js';
import { simulate } from '../src/sched/simulate.js';
import { parseWorkload, SyntheticWorkload } from '../src/sched/workload.js';
import { trainDistributed } from '../src/train/distributed.js';
// Imported here as well as listed in `modules`: mocha runs this file as CommonJS (through tsx), and
// the module trainDistributed imports registers in a second, ECMAScript-module copy of the registry.
import { hottestEverywhere } from '../examples/hottest-everywhere.js';

/** Expands expert 0 onto every device with room at step 2, once. */
const expandZero = (): Policy => ({
  name: 'expand-zero',
  initial: (D, S, E) => Placement.roundRobin(D, S, E),
  decide: (load, placement) =>
    load.step === 2 ? [...Array(placement.devices).keys()].filter((d) => !placement.hosts[d]!.includes(0) && placement.freeSlots(d) > 0).map((device) => ({ op: 'expand' as const, expert: 0, device })) : [],
  dispatch: () => ({ mode: 'split', locality: true }),
});

describe('policies of your own, by name (registerPolicy)', () => {
  it('are made and simulated by name, like the built-ins; the reports carry the registered name', () => {
    registerPolicy('expand-zero-test', expandZero);
    assert.ok(userPolicies().includes('expand-zero-test'));
    assert.equal(makePolicy('expand-zero-test').name, 'expand-zero');
    const source = new SyntheticWorkload(parseWorkload('zipf:2'), 8, 2, 10, 1024, 1);
    const { reports } = simulate({ source, devices: 4, slots: 4, profile: clusterA100, policies: ['static', 'expand-zero-test'] });
    assert.deepEqual(reports.map((r) => r.policy), ['static', 'expand-zero-test']);
    assert.equal(reports[1]!.replans, 1);
  });

  it('refuse built-in names, bad names, factories that are not functions, and objects that are not policies', () => {
    assert.throws(() => registerPolicy('flexmoe', expandZero), /"flexmoe" is a built-in policy; give yours another name/);
    assert.throws(() => registerPolicy('', expandZero), /policy name "": use letters, digits/);
    assert.throws(() => registerPolicy('has space', expandZero), /policy name "has space"/);
    assert.throws(() => registerPolicy('not-a-factory', expandZero() as never), /expected a function that makes the policy, got object/);
    registerPolicy('half-a-policy', () => ({ name: 'half', initial: expandZero().initial }) as unknown as Policy);
    assert.throws(() => makePolicy('half-a-policy'), /policy "half-a-policy" made an object without decide, dispatch/);
  });

  it('registering a name again replaces it (a notebook re-running its cell)', () => {
    registerPolicy('twice-test', expandZero);
    registerPolicy('twice-test', () => ({ ...expandZero(), name: 'second' }));
    assert.equal(makePolicy('twice-test').name, 'second');
  });
});

describe('a policy of your own, live', function () {
  this.timeout(240_000);
  const chars = 100_000;
  const corpus = new CharCorpus(mobyDick().slice(0, chars));
  const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 16, dModel: 32, heads: 2, dFF: 64, layers: 2, seed: 5, moe: { experts: 4, topk: 2, routerSkew: 1.5 } };
  const base = { devices: 2, config, steps: 6, batch: 8, lr: 3e-3, corpusChars: chars };
  const module = new URL('../examples/hottest-everywhere.ts', import.meta.url);

  it('runs in the scheduler actor on a device that loaded its module: its expand clones the expert actor, the losses stay', async () => {
    const fixed = await trainDistributed(base);
    const changes: string[] = [];
    const runtime: string[] = [];
    const live = await trainDistributed({
      ...base, slots: 4, profile: clusterA100, policy: 'hottest-everywhere', modules: [module],
      onRebalance: (r) => changes.push(`${r.step}:${r.layer}:${r.ops.map((o) => o.op).join()}:${r.moves!.cloned}`),
      onRuntimeEvent: (e) => (e.type === 'actor-cloned' ? runtime.push(e.type) : undefined),
    });
    live.forEach((s, i) => assert.ok(Math.abs(s.loss - fixed[i]!.loss) <= 1e-5 * fixed[i]!.loss, `step ${i}: ${s.loss} vs ${fixed[i]!.loss}`));
    assert.deepEqual(changes, ['1:0:expand:1', '1:1:expand:1'], 'one expand per MoE layer, carried out as one clone each');
    assert.equal(runtime.length, 5, 'the trainer and each layer\'s gate cloned onto device 1 at the start, then each layer\'s hot expert');
    assert.equal(live.at(-1)!.placementVersion, 1);
  });

  it('registered only in this thread, it fails at start with what to do, and every device stops', async () => {
    registerPolicy('only-in-this-thread', () => hottestEverywhere);
    await assert.rejects(
      trainDistributed({ ...base, slots: 4, profile: clusterA100, policy: 'only-in-this-thread' }),
      /unknown policy "only-in-this-thread".*registerPolicy in a module listed in modules/,
    );
  });
});
