/** What a cell can show besides console output: text, or an SVG picture. */
export type Displayable = string | { mime: 'image/svg+xml'; data: string; name?: string } | { mime: 'text/markdown'; data: string };

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
  process.stdout.write(`${typeof value === 'string' ? value : value.mime === 'image/svg+xml' ? `[svg ${value.name ?? 'chart'}, ${value.data.length} bytes]` : value.data}\n`);
}

export function setDisplaySink(sink: ((v: Displayable) => void) | undefined): void {
  (globalThis as Record<symbol, unknown>)[SINK] = sink;
}
