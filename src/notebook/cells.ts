import { errors } from '../errors.js';

export interface Cell {
  kind: 'code' | 'markdown';
  /** 1-based cell number, as shown to users. */
  index: number;
  /** Line of the `// %%` marker in the source file (1-based). */
  line: number;
  source: string;
}

const MARKER = /^\/\/ %%( \[markdown\])?\s*$/;

/**
 * Splits a percent-format file into cells: a line `// %%` starts a code cell, `// %% [markdown]`
 * a prose cell whose `// ` comment lines are the Markdown. Text before the first marker is ignored.
 */
export function parseCells(text: string, file = 'notebook'): Cell[] {
  const cells: Cell[] = [];
  let current: Cell | null = null;
  text.split('\n').forEach((raw, i) => {
    const m = MARKER.exec(raw);
    if (m) {
      current = { kind: m[1] ? 'markdown' : 'code', index: cells.length + 1, line: i + 1, source: '' };
      cells.push(current);
      return;
    }
    if (!current) return;
    const c: Cell = current;
    c.source += `${c.kind === 'markdown' ? raw.replace(/^\/\/ ?/, '') : raw}\n`;
  });
  for (const c of cells) c.source = c.source.replace(/\s+$/, '');
  if (!cells.length) throw errors.badArgument('notebook', `${file} has no cells (mark them with "// %%" or "// %% [markdown]")`);
  return cells;
}

/**
 * One module whose default export is an async generator running one code cell per `next()`:
 * all cells share one scope and nothing runs twice (cells start worker threads). Single-line
 * imports move to the top; `export` is dropped (a generator body cannot export).
 */
export function compileCells(cells: Cell[]): { module: string; codeCells: Cell[] } {
  const imports: string[] = [];
  const body: string[] = [];
  const codeCells = cells.filter((c) => c.kind === 'code');
  codeCells.forEach((c, i) => {
    const kept: string[] = [];
    for (const line of c.source.split('\n')) {
      if (/^import .* from ['"][^'"]+['"];?\s*$/.test(line) || /^import ['"][^'"]+['"];?\s*$/.test(line)) imports.push(line);
      else if (/^export \{[^}]*\};?\s*$/.test(line)) continue;
      else kept.push(line.replace(/^export (const|let|function|class|async function) /, '$1 '));
    }
    body.push(`// cell ${c.index} (source line ${c.line})`, ...kept, `yield ${i};`);
  });
  const module = [...imports, 'export default async function* notebook() {', ...body, '}', ''].join('\n');
  return { module, codeCells };
}
