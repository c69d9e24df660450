import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { Notebook } from '../src/notebook/runner.js';

// Every example runs cell by cell at CI size (FLEXMOE_QUICK=1), through the notebook runner.
describe('examples run as notebooks (CI size)', function () {
  this.timeout(180_000);
  const dir = new URL('../examples/', import.meta.url).pathname;
  const examples = readdirSync(dir).filter((f) => /^\d\d-.*\.ts$/.test(f)).sort();

  before(() => (process.env.FLEXMOE_QUICK = '1'));
  after(() => delete process.env.FLEXMOE_QUICK);

  it('there are seven examples', () => assert.equal(examples.length, 7, examples.join(', ')));

  for (const file of examples) {
    it(file, async () => {
      const nb = new Notebook(dir + file);
      try {
        const results = await nb.runAll();
        assert.ok(results.length > 0);
        if (file.startsWith('03')) {
          const text = results.flatMap((r) => r.outputs).filter((o) => typeof o === 'string').join('\n');
          const m = /loss ([\d.]+) → ([\d.]+)/.exec(text);
          assert.ok(m && Number(m[2]) < Number(m[1]) - 0.5, text);
        }
        if (file.startsWith('02')) assert.ok(results.some((r) => r.outputs.some((o) => typeof o !== 'string' && o.mime === 'text/markdown' && o.data.includes('3, 30'))), 'all-reduced sums');
      } finally {
        nb.close();
      }
    });
  }
});

describe('rendered example docs are up to date', () => {
  it('docs/examples/NN-name.md carries every prose and code cell of examples/NN-name.ts as it is now', async () => {
    const { readFileSync, existsSync } = await import('node:fs');
    const { parseCells } = await import('../src/notebook/cells.js');
    const root = new URL('../', import.meta.url).pathname;
    for (const file of readdirSync(`${root}examples`).filter((f) => /^\d\d-.*\.ts$/.test(f))) {
      const md = `${root}docs/examples/${file.replace(/\.ts$/, '.md')}`;
      assert.ok(existsSync(md), `${md} is missing: FLEXMOE_QUICK=1 npx flexmoe notebook examples/${file} --render ${md.slice(root.length)}`);
      const text = readFileSync(md, 'utf8');
      for (const c of parseCells(readFileSync(`${root}examples/${file}`, 'utf8'))) {
        assert.ok(text.includes(c.source), `${md.slice(root.length)} is out of date at cell ${c.index}; re-render it`);
      }
    }
  });
});
