import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { errors } from '../errors.js';
import { compileCells, parseCells, type Cell } from './cells.js';
import { renderSvg } from './vega.js';
import { setDisplaySink, type Displayable } from './display.js';

export interface CellResult {
  cell: Cell;
  /** Console output and displayed values, in order. */
  outputs: Displayable[];
  error?: string;
  ms: number;
}

/**
 * Runs a percent-format file cell by cell. `step()` runs the next code cell and returns its result
 * (outputs captured from console.log/info/warn and `display()`); a cell that throws keeps the
 * earlier results and reports its number.
 */
export class Notebook {
  readonly cells: Cell[];
  readonly results: CellResult[] = [];
  private readonly codeCells: Cell[];
  private readonly generated: string;
  private iterator: AsyncGenerator<number> | null = null;
  private done = false;

  /**
   * Called every `progressEveryMs` while a cell runs (and the event loop is free to notice), so a
   * long cell is seen to be alive: the cell and the seconds so far.
   */
  onProgress?: (cell: Cell, seconds: number) => void;
  progressEveryMs = 5_000;

  constructor(readonly file: string) {
    this.cells = parseCells(readFileSync(file, 'utf8'), file);
    const { module, codeCells } = compileCells(this.cells);
    this.codeCells = codeCells;
    // Next to the source, so its relative imports resolve as written.
    this.generated = join(dirname(resolve(file)), `.${basename(file, '.ts')}.notebook-${process.pid}.ts`);
    writeFileSync(this.generated, module);
  }

  get finished(): boolean {
    return this.done;
  }

  /** The code cell that `step()` runs next (undefined when finished). */
  get next(): Cell | undefined {
    return this.done ? undefined : this.codeCells[this.results.length];
  }

  async step(): Promise<CellResult | null> {
    if (this.done) return null;
    const cell = this.codeCells[this.results.length]!;
    const outputs: Displayable[] = [];
    const restore = capture(outputs);
    const t0 = performance.now();
    const progress = this.onProgress;
    const ticker = progress ? setInterval(() => progress(cell, (performance.now() - t0) / 1000), this.progressEveryMs) : null;
    ticker?.unref();
    let error: string | undefined;
    // Relative paths in a cell (modules for the devices, files) mean the notebook's folder, as in Jupyter.
    const cwd = process.cwd();
    process.chdir(dirname(this.generated));
    try {
      if (!this.iterator) {
        type Gen = () => AsyncGenerator<number>;
        const { tsImport } = (await import('tsx/esm/api')) as { tsImport: (url: string, parent: string) => Promise<{ default: Gen | { default: Gen } }> };
        const mod = await tsImport(pathToFileURL(this.generated).href, import.meta.url);
        // Outside an ESM package (no "type": "module" above the file) tsx compiles it as CommonJS,
        // which nests the default export one level deeper.
        this.iterator = (typeof mod.default === 'function' ? mod.default : mod.default.default)();
      }
      const r = await this.iterator.next();
      if (r.done) this.done = true;
    } catch (e) {
      error = (e as Error).stack ?? String(e);
      this.done = true;
    } finally {
      process.chdir(cwd);
      if (ticker) clearInterval(ticker);
      restore();
    }
    const result: CellResult = { cell, outputs, error, ms: performance.now() - t0 };
    this.results.push(result);
    if (this.results.length === this.codeCells.length) this.done = true;
    return result;
  }

  /** Runs every remaining cell, handing each result to `onCell` as it finishes; throws at the first failing one, naming it. */
  async runAll(onCell?: (r: CellResult) => void): Promise<CellResult[]> {
    while (!this.done) {
      const r = await this.step();
      if (r) onCell?.(r);
      if (r?.error) throw errors.badArgument('notebook', `${this.file}: cell ${r.cell.index} (line ${r.cell.line}) failed: ${r.error.split('\n')[0]}`);
    }
    return this.results;
  }

  /** Markdown with prose, code, and each cell's output; SVG outputs become files beside `mdFile`. */
  async render(mdFile: string): Promise<string> {
    const dir = dirname(mdFile), stem = basename(mdFile, '.md');
    mkdirSync(dir, { recursive: true });
    const byCell = new Map(this.results.map((r) => [r.cell.index, r]));
    const parts: string[] = [`<!-- Rendered from ${relative(dir, this.file)} by \`flexmoe notebook --render\`; do not edit. -->`];
    let images = 0;
    for (const c of this.cells) {
      if (c.kind === 'markdown') {
        parts.push(c.source);
        continue;
      }
      parts.push(`\`\`\`ts\n${c.source}\n\`\`\``);
      const r = byCell.get(c.index);
      if (!r) continue;
      const text = r.outputs.filter((o): o is string => typeof o === 'string').join('\n');
      if (text) parts.push(`\`\`\`text\n${text}\n\`\`\``);
      for (const o of r.outputs) {
        if (typeof o === 'string') continue;
        if (o.mime === 'text/markdown') parts.push(o.data);
        else {
          const name = `${stem}-${++images}.svg`;
          writeFileSync(join(dir, name), o.mime === 'image/svg+xml' ? o.data : await renderSvg(o.data));
          parts.push(`![${o.name ?? 'chart'}](${name})`);
        }
      }
      if (r.error) parts.push(`\`\`\`text\n${r.error.split('\n')[0]}\n\`\`\``);
    }
    const md = `${parts.join('\n\n')}\n`;
    writeFileSync(mdFile, md);
    return md;
  }

  close(): void {
    rmSync(this.generated, { force: true });
  }
}

/** Routes console output and display() into `outputs` until the returned function restores them. */
function capture(outputs: Displayable[]): () => void {
  const saved = { log: console.log, info: console.info, warn: console.warn };
  const push = (...args: unknown[]) => void outputs.push(format(...args));
  console.log = console.info = console.warn = push;
  setDisplaySink((v) => outputs.push(v));
  return () => {
    Object.assign(console, saved);
    setDisplaySink(undefined);
  };
}
