import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileCells, parseCells } from '../src/notebook/cells.js';
import { Notebook } from '../src/notebook/runner.js';
import { toIpynb } from '../src/notebook/ipynb.js';

describe('notebook runner', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'flexmoe-nb-'));

  it('splits percent cells and compiles them into one scope that runs each cell once', () => {
    const cells = parseCells('ignored\n// %% [markdown]\n// # Title\n// %%\nimport { x } from "./x.js";\nexport const a = 1;\n// %%\nconsole.log(a);\nexport { a };');
    assert.deepEqual(cells.map((c) => [c.kind, c.index, c.line]), [['markdown', 1, 2], ['code', 2, 4], ['code', 3, 7]]);
    assert.equal(cells[0]!.source, '# Title');
    const { module } = compileCells(cells);
    assert.match(module, /^import \{ x \} from "\.\/x\.js";\nexport default async function\* notebook\(\) \{/);
    assert.match(module, /const a = 1;\nyield 0;/);
    assert.ok(!/export \{ a \}/.test(module));
  });

  it('each example has its Jupyter notebook, with the same cells as its source (npm run notebooks)', () => {
    const examples = new URL('../examples/', import.meta.url).pathname;
    const sources = readdirSync(examples).filter((f) => /^\d\d-.*\.ts$/.test(f));
    assert.ok(sources.length >= 7);
    for (const f of sources) {
      const cells = parseCells(readFileSync(join(examples, f), 'utf8'), f);
      const ipynb = JSON.parse(readFileSync(join(examples, f.replace(/\.ts$/, '.ipynb')), 'utf8'));
      assert.deepEqual(ipynb, toIpynb(cells), `${f}: run npm run notebooks`);
      assert.equal(ipynb.metadata.kernelspec.name, 'tslab');
      // Jupyter joins a cell's lines as they are: every line but the last keeps its newline.
      const first = (ipynb as ReturnType<typeof toIpynb>).cells.find((c) => c.cell_type === 'code');
      assert.equal(first!.source.join(''), cells.find((c) => c.kind === 'code')!.source);
    }
  });

  it('steps cell by cell with shared variables, captures output, and renders Markdown', async () => {
    const file = join(dir, 'ok.ts');
    writeFileSync(file, '// %% [markdown]\n// Hello\n// %%\nlet n = 41;\nconsole.log("first");\n// %%\nn++;\nconsole.log("n is", n);\n');
    const nb = new Notebook(file);
    try {
      const first = await nb.step();
      assert.deepEqual(first!.outputs, ['first']);
      const second = await nb.step();
      assert.deepEqual(second!.outputs, ['n is 42']);
      assert.ok(nb.finished);
      const md = await nb.render(join(dir, 'out', 'ok.md'));
      assert.match(md, /Hello\n\n```ts\nlet n = 41;[\s\S]*```text\nn is 42\n```/);
    } finally {
      nb.close();
    }
    assert.ok(!readdirSync(dir).some((f) => f.includes('.notebook-')), 'the generated module is removed');
  });

  it('a failing cell is named, earlier outputs are kept; a file with no cells is an error', async () => {
    const file = join(dir, 'bad.ts');
    writeFileSync(file, '// %%\nconsole.log("kept");\n// %%\nthrow new Error("boom");\n');
    const nb = new Notebook(file);
    try {
      await assert.rejects(nb.runAll(), /bad\.ts: cell 2 \(line 3\) failed: Error: boom/);
      assert.deepEqual(nb.results[0]!.outputs, ['kept']);
    } finally {
      nb.close();
    }
    writeFileSync(join(dir, 'empty.ts'), 'const x = 1;\n');
    assert.throws(() => new Notebook(join(dir, 'empty.ts')), /empty\.ts has no cells/);
  });

  it('a long cell reports that it is running, and stops reporting when it is done', async () => {
    const file = join(dir, 'slow.ts');
    // The cell runs until it has been reported twice (a condition, not a duration).
    writeFileSync(file, '// %%\nconst seen = (globalThis as { seen?: number[] }).seen!;\nwhile (seen.length < 2) await new Promise((r) => setTimeout(r, 5));\nconsole.log("done");\n');
    const nb = new Notebook(file);
    const seen: number[] = [];
    (globalThis as { seen?: number[] }).seen = seen;
    nb.onProgress = (cell, s) => seen.push(cell.index * 1000 + Math.round(s * 1000));
    nb.progressEveryMs = 20;
    try {
      const r = await nb.step();
      assert.deepEqual(r!.outputs, ['done']);
      assert.ok(seen.length >= 2 && seen.every((v) => Math.floor(v / 1000) === 1), `progress ${seen}`);
      const after = seen.length;
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(seen.length, after, 'no report once the cell is done');
    } finally {
      nb.close();
      delete (globalThis as { seen?: number[] }).seen;
    }
  });

  it('charts are Vega-Lite: rendered headlessly to SVG with axis titles, gridlines and a legend; coinciding series both show', async () => {
    const { lineChart, barChart, heatMap } = await import('../src/notebook/charts.js');
    const { renderSvg } = await import('../src/notebook/vega.js');
    const same = [1.5, 1.2, 1.1, 1.05];
    const chart = lineChart({ title: 'balance', series: [{ name: 'flexmoe', values: same }, { name: 'eplb', values: same }, { name: 'static', values: [2, 2.1, 2.2, 2.1] }], markers: [2], xLabel: 'step', yLabel: 'max/mean load' });
    assert.equal(chart.mime, 'application/vnd.vegalite.v5+json', 'Jupyter renders the same spec itself');
    const svg = await renderSvg(chart.data);
    assert.match(svg, /^<svg[^>]*>/);
    for (const text of ['step', 'max/mean load', 'balance', 'flexmoe', 'eplb', 'static']) assert.ok(svg.includes(`>${text}<`), `the SVG shows "${text}"`);
    assert.ok((svg.match(/class="mark-rule role-axis-grid"/g) ?? []).length >= 2, 'gridlines on both axes');
    // The two identical series are drawn as two lines with different dashes, not one on top of the other.
    const lines = [...svg.matchAll(/<path[^>]*aria-roledescription="line mark"[^>]*>/g)].map((m) => m[0]);
    assert.equal(lines.length, 3, 'one line per series');
    assert.equal(new Set(lines.map((l) => /stroke-dasharray="([^"]*)"/.exec(l)?.[1] ?? 'solid')).size, 3, 'each series has a dash of its own');
    const bars = await renderSvg(barChart({ title: 'tokens/s', labels: ['static', 'flexmoe'], values: [100, 150], yLabel: 'tokens/s' }).data);
    assert.ok(bars.includes('>tokens/s<') && bars.includes('>flexmoe<'));
    const heat = await renderSvg(heatMap({ title: 'placement', rowLabels: ['dev 0', 'dev 1'], colLabels: ['e0', 'e1'], values: [[1, 0], [0, 1]], valueLabel: 'replicas' }).data);
    assert.ok(heat.includes('>dev 1<') && heat.includes('>replicas<'));
  });

  it('charts show as sparklines in a terminal: one line per series on a shared scale, range, last value and markers', async () => {
    const { lineChart } = await import('../src/notebook/charts.js');
    const { asText } = await import('../src/notebook/display.js');
    const chart = lineChart({ title: 'balance', series: [{ name: 'static', values: [1, 2, 3, 4] }, { name: 'flexmoe', values: [1, 1, 1, 1] }], markers: [2] });
    assert.equal(asText(chart), 'balance (4 points)\n  static  ▁▃▆█  1.00–4.00, last 4.00\n  flexmoe ▁▁▁▁  1.00–1.00, last 1.00\n            ^   re-plans at 2');
    assert.equal(asText({ mime: 'image/svg+xml', data: '<svg/>', name: 'plain' }), '[plain: SVG, 6 bytes]');
  });
});
