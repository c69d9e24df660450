import { createRequire } from 'node:module';
import type { VegaLiteSpec } from './vega.js';

/** What a cell can show besides console output: text, an SVG picture, a Vega-Lite chart (charts.ts), or Markdown. */
export type Displayable =
  | string
  | { mime: 'image/svg+xml'; data: string; name?: string; text?: string }
  | { mime: 'application/vnd.vegalite.v5+json'; data: VegaLiteSpec; name?: string; text?: string }
  | { mime: 'text/markdown'; data: string };

/** How a terminal shows a value: text as is, a chart as its text form (sparklines) when it has one. */
export function asText(value: Displayable): string {
  if (typeof value === 'string') return value;
  if (value.mime === 'text/markdown') return value.data;
  if (value.mime === 'image/svg+xml') return value.text ?? `[${value.name ?? 'chart'}: SVG, ${value.data.length} bytes]`;
  return value.text ?? `[${value.name ?? 'chart'}: Vega-Lite chart]`;
}

const SINK = Symbol.for('flexmoe.notebook.display');

interface TslabDisplay {
  markdown(s: string): void;
  svg(s: string): void;
  raw(contentType: string, data: unknown): void;
}

/**
 * The tslab kernel's display when this process is one (a Jupyter notebook), else null. Found
 * through the kernel's own loaded module, so it works wherever tslab is installed; its public
 * module throws "Not ready" outside a cell's execution, when there is nowhere to show anything.
 */
function tslabDisplay(): TslabDisplay | null {
  const require = createRequire(import.meta.url);
  const kernel = Object.keys(require.cache).find((k) => /[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(k));
  if (!kernel) return null;
  try {
    return (createRequire(kernel)('./public.js') as { display: TslabDisplay }).display;
  } catch {
    return null;
  }
}

function showInJupyter(value: Exclude<Displayable, string>): boolean {
  const d = tslabDisplay();
  if (!d) return false;
  try {
    if (value.mime === 'text/markdown') d.markdown(value.data);
    else if (value.mime === 'image/svg+xml') d.svg(value.data);
    // JupyterLab, Notebook 7 and VS Code render Vega-Lite from the specification itself.
    else d.raw(value.mime, value.data);
    return true;
  } catch {
    return false;
  }
}

/**
 * Shows a value in the notebook runner's output for the current cell (SVG charts become image
 * files beside rendered Markdown); in a Jupyter notebook (the tslab kernel), as a rich output:
 * Markdown, SVG or a Vega-Lite chart; elsewhere, prints it.
 *
 * @example
 * display(renderChart(lineChart(points)));
 */
export function display(value: Displayable): void {
  const sink = (globalThis as Record<symbol, ((v: Displayable) => void) | undefined>)[SINK];
  if (sink) return sink(value);
  if (typeof value !== 'string' && showInJupyter(value)) return;
  process.stdout.write(`${asText(value)}\n`);
}

export function setDisplaySink(sink: ((v: Displayable) => void) | undefined): void {
  (globalThis as Record<symbol, unknown>)[SINK] = sink;
}
