import type { Displayable } from './display.js';
import { VEGA_LITE_MIME, type VegaLiteSpec } from './vega.js';

/**
 * Charts for notebooks and docs as Vega-Lite specifications (vega.ts renders them to SVG; Jupyter
 * renders them itself), each with a text form for terminals: a line chart (several series, with
 * optional vertical markers such as re-plans), a bar chart, and a heat map (devices × experts).
 * Axes are titled, gridlines drawn, series told apart by colour, dash and point shape, so series
 * that coincide stay visible.
 */
/** A chart: its Vega-Lite specification (`data`) and its text form for terminals. */
export type Chart = Extract<Displayable, { mime: 'application/vnd.vegalite.v5+json' }>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
const num = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
const base = (title: string): VegaLiteSpec => ({ $schema: SCHEMA, title, width: 420, height: 200, background: 'white', config: { axis: { grid: true, gridOpacity: 0.5 }, font: 'sans-serif' } });

export function lineChart(opts: { title: string; series: { name: string; values: number[] }[]; markers?: number[]; xLabel?: string; yLabel?: string }): Chart {
  const values = opts.series.flatMap((s) => s.values.map((v, i) => ({ x: i, y: Number.isFinite(v) ? v : null, series: s.name })));
  const all = opts.series.flatMap((s) => s.values.filter(Number.isFinite));
  let lo = Math.min(...all), hi = Math.max(...all);
  if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
  const order = opts.series.map((s) => s.name);
  const line = {
    data: { values },
    mark: { type: 'line', point: { size: 18, filled: true }, strokeWidth: 1.6 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: opts.xLabel ?? 'step' },
      y: { field: 'y', type: 'quantitative', title: opts.yLabel ?? '', scale: { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, sort: order },
      strokeDash: { field: 'series', type: 'nominal', title: null, sort: order },
      shape: { field: 'series', type: 'nominal', title: null, sort: order },
    },
  };
  const layers: unknown[] = [line];
  if (opts.markers?.length) {
    layers.push({
      data: { values: opts.markers.map((m) => ({ x: m, what: 're-plan' })) },
      mark: { type: 'rule', strokeDash: [3, 3], color: '#888' },
      encoding: { x: { field: 'x', type: 'quantitative' }, tooltip: { field: 'what' } },
    });
  }
  const spec = { ...base(opts.title), layer: layers };
  return { mime: VEGA_LITE_MIME, data: spec, name: opts.title, text: sparklines(opts.title, opts.series, lo, hi, opts.markers) };
}

const TICKS = '▁▂▃▄▅▆▇█';

/**
 * The chart as text for a terminal: a sparkline per series on the shared scale (at most 60
 * columns, each the mean of its steps), its range and last value, and where the markers fall.
 */
export function sparklines(title: string, series: { name: string; values: number[] }[], lo: number, hi: number, markers: number[] = []): string {
  const n = Math.max(1, ...series.map((s) => s.values.length)), cols = Math.min(60, n);
  const width = Math.max(...series.map((s) => s.name.length));
  const bucket = (values: number[], c: number) => {
    const part = values.slice(Math.floor((c * n) / cols), Math.max(Math.floor((c * n) / cols) + 1, Math.floor(((c + 1) * n) / cols))).filter(Number.isFinite);
    return part.length ? part.reduce((a, b) => a + b, 0) / part.length : NaN;
  };
  const lines = series.map((s) => {
    const marks = Array.from({ length: cols }, (_, c) => {
      const v = bucket(s.values, c);
      return Number.isFinite(v) ? TICKS[Math.min(7, Math.max(0, Math.round((7 * (v - lo)) / (hi - lo))))]! : ' ';
    }).join('');
    const finite = s.values.filter(Number.isFinite);
    return `  ${s.name.padEnd(width)} ${marks}  ${finite.length ? `${num(Math.min(...finite))}–${num(Math.max(...finite))}, last ${num(finite.at(-1)!)}` : 'no values'}`;
  });
  if (markers.length) lines.push(`  ${''.padEnd(width)} ${Array.from({ length: cols }, (_, c) => (markers.some((m) => Math.floor((m * cols) / n) === c) ? '^' : ' ')).join('')}  re-plans at ${markers.join(', ')}`);
  return `${title} (${n} points)\n${lines.join('\n')}`;
}

export function barChart(opts: { title: string; labels: string[]; values: number[]; yLabel?: string; xLabel?: string }): Chart {
  const values = opts.labels.map((label, i) => ({ label, value: opts.values[i]! }));
  const b = base(opts.title);
  // Labels side by side need about 6.5 px a character; when they would run into each other, slant them.
  const longest = Math.max(...opts.labels.map((l) => l.length));
  const labelAngle = longest * 6.5 > (b.width as number) / Math.max(1, opts.labels.length) ? -35 : 0;
  const spec = {
    ...b,
    data: { values },
    layer: [
      { mark: { type: 'bar', color: '#1f77b4' } },
      { mark: { type: 'text', dy: -6 }, encoding: { text: { field: 'value', type: 'quantitative', format: '.3~g' } } },
    ],
    encoding: {
      x: { field: 'label', type: 'nominal', sort: opts.labels, title: opts.xLabel ?? null, axis: { labelAngle } },
      y: { field: 'value', type: 'quantitative', title: opts.yLabel ?? '' },
    },
  };
  const text = `${opts.title}\n${opts.labels.map((l, i) => `  ${l.padEnd(longest)} ${num(opts.values[i]!)}`).join('\n')}`;
  return { mime: VEGA_LITE_MIME, data: spec, name: opts.title, text };
}

/** rows × columns of values, darker is more (e.g. replicas of each expert on each device). */
export function heatMap(opts: { title: string; rowLabels: string[]; colLabels: string[]; values: number[][]; valueLabel?: string }): Chart {
  const values = opts.values.flatMap((row, r) => row.map((v, c) => ({ row: opts.rowLabels[r]!, col: opts.colLabels[c]!, value: v })));
  const b = base(opts.title);
  // Cells, not a plot area: no gridlines across them.
  const spec = {
    ...b,
    config: { ...(b.config as object), axis: { grid: false } },
    data: { values },
    mark: { type: 'rect', stroke: 'white' },
    encoding: {
      x: { field: 'col', type: 'nominal', sort: opts.colLabels, title: null, axis: { labelAngle: 0 } },
      y: { field: 'row', type: 'nominal', sort: opts.rowLabels, title: null },
      color: { field: 'value', type: 'quantitative', title: opts.valueLabel ?? 'value', scale: { scheme: 'blues' } },
    },
  };
  const text = `${opts.title}\n${opts.values.map((row, r) => `  ${opts.rowLabels[r]}: ${row.map(num).join(' ')}`).join('\n')}`;
  return { mime: VEGA_LITE_MIME, data: spec, name: opts.title, text };
}

/** A Markdown table (for speedups and summaries). */
export function table(head: string[], rows: (string | number)[][]): Displayable {
  const fmt = (v: string | number) => (typeof v === 'number' ? num(v) : v);
  return { mime: 'text/markdown', data: [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(fmt).join(' | ')} |`)].join('\n') };
}
