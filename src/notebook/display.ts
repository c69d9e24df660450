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

/**
 * Shows a value in the notebook runner's output for the current cell (SVG charts become image
 * files beside rendered Markdown); outside the runner, prints it.
 *
 * @example
 * display(renderChart(lineChart(points)));
 */
export function display(value: Displayable): void {
  const sink = (globalThis as Record<symbol, ((v: Displayable) => void) | undefined>)[SINK];
  if (sink) return sink(value);
  process.stdout.write(`${asText(value)}\n`);
}

export function setDisplaySink(sink: ((v: Displayable) => void) | undefined): void {
  (globalThis as Record<symbol, unknown>)[SINK] = sink;
}
