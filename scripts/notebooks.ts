// Writes examples/NN-name.ipynb from each percent-format example, for Jupyter with the tslab kernel.
// The .ts files are the source; test/notebook.test.ts checks that the notebooks match them.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCells } from '../src/notebook/cells.js';
import { ipynbText } from '../src/notebook/ipynb.js';

const dir = new URL('../examples/', import.meta.url).pathname;
for (const f of readdirSync(dir).filter((f) => /^\d\d-.*\.ts$/.test(f))) {
  const out = join(dir, f.replace(/\.ts$/, '.ipynb'));
  writeFileSync(out, ipynbText(parseCells(readFileSync(join(dir, f), 'utf8'), f)));
  console.log(`wrote ${out}`);
}
