import { createInterface } from 'node:readline';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { errors } from '../errors.js';
import { Notebook, type CellResult } from '../notebook/runner.js';
import { asText } from '../notebook/display.js';
import { parseCells } from '../notebook/cells.js';
import { ipynbText } from '../notebook/ipynb.js';
import type { Flags } from './args.js';
import { checkWritable } from '../train/paths.js';

export const notebookHelp = `flexmoe notebook FILE.ts [--run-all] [--render FILE.md] [--ipynb FILE.ipynb]
  Steps through a percent-format example: Enter runs the next cell, q quits. --run-all runs every
  cell and fails on the first error, naming the cell; --render writes Markdown with the outputs;
  --ipynb writes the same cells as a Jupyter notebook for the tslab kernel, without running them.`;

function show(r: CellResult): void {
  for (const o of r.outputs) process.stdout.write(`${asText(o)}\n`);
  if (r.error) process.stdout.write(`✗ cell ${r.cell.index} failed: ${r.error}\n`);
}

export async function notebookCommand(flags: Flags, positional: string[]): Promise<void> {
  const file = positional[0];
  if (!file) throw errors.badArgument('notebook', 'give the example file: flexmoe notebook examples/NN-name.ts');
  if (!existsSync(file)) throw errors.badArgument('notebook', `no such file: ${file}`);
  if (typeof flags.ipynb === 'string') {
    checkWritable(flags.ipynb, '--ipynb');
    writeFileSync(flags.ipynb, ipynbText(parseCells(readFileSync(file, 'utf8'), file)));
    return;
  }
  const nb = new Notebook(file);
  // A long cell says it is alive (on stderr, so outputs stay clean).
  nb.onProgress = (cell, s) => process.stderr.write(`… cell ${cell.index} (line ${cell.line}) running, ${s.toFixed(0)} s\n`);
  try {
    const interactive = flags['run-all'] !== true && typeof flags.render !== 'string' && process.stdin.isTTY;
    if (!interactive) {
      const t0 = performance.now();
      const printing = flags['run-all'] === true && typeof flags.render !== 'string';
      try {
        // Each cell's outputs as it finishes; the first failure stops the run, naming the cell.
        await nb.runAll(printing ? show : undefined);
      } finally {
        if (typeof flags.render === 'string') await nb.render(flags.render);
      }
      process.stderr.write(`${nb.results.length} cells ran in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      return;
    }
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      for (const c of nb.cells) {
        if (c.kind === 'markdown') {
          process.stdout.write(`\n${c.source}\n`);
          continue;
        }
        process.stdout.write(`\n── cell ${c.index} ─────────────\n${c.source}\n── Enter: run · q: quit › `);
        const answer = await new Promise<string>((resolve) => rl.once('line', resolve));
        if (answer.trim() === 'q') return;
        const r = await nb.step();
        if (r) show(r);
        if (r?.error) return;
      }
    } finally {
      rl.close();
    }
  } finally {
    nb.close();
  }
}
