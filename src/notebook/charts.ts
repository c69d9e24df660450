import type { Displayable } from './display.js';

/**
 * Small SVG charts for notebooks and docs, with no dependency: a line chart (several series,
 * optional vertical markers such as re-plans), a bar chart, and a heat map (devices × experts).
 */
const W = 560, H = 260, L = 48, R = 120, T = 28, B = 36;
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const num = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

function frame(title: string, inner: string, width = W): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" font-family="sans-serif" font-size="11">` +
    `<rect width="100%" height="100%" fill="white"/><text x="${L}" y="16" font-size="13" font-weight="bold">${esc(title)}</text>${inner}</svg>`;
}

export function lineChart(opts: { title: string; series: { name: string; values: number[] }[]; markers?: number[]; xLabel?: string; yLabel?: string }): Displayable {
  const n = Math.max(1, ...opts.series.map((s) => s.values.length));
  const all = opts.series.flatMap((s) => s.values.filter(Number.isFinite));
  let lo = Math.min(...all), hi = Math.max(...all);
  if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
  const x = (i: number) => L + ((W - L - R) * i) / Math.max(1, n - 1);
  const y = (v: number) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  let inner = `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`;
  for (const t of [lo, (lo + hi) / 2, hi]) inner += `<text x="${L - 4}" y="${y(t) + 4}" text-anchor="end">${num(t)}</text>`;
  inner += `<text x="${L}" y="${H - B + 14}">0</text><text x="${W - R}" y="${H - B + 14}" text-anchor="end">${n - 1}</text>`;
  if (opts.xLabel) inner += `<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">${esc(opts.xLabel)}</text>`;
  if (opts.yLabel) inner += `<text x="12" y="${(T + H - B) / 2}" transform="rotate(-90 12 ${(T + H - B) / 2})" text-anchor="middle">${esc(opts.yLabel)}</text>`;
  for (const m of opts.markers ?? []) inner += `<line x1="${x(m)}" y1="${T}" x2="${x(m)}" y2="${H - B}" stroke="#999" stroke-dasharray="3,3"/>`;
  opts.series.forEach((s, k) => {
    const pts = s.values.map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : '')).filter(Boolean).join(' ');
    inner += `<polyline fill="none" stroke="${palette[k % palette.length]}" stroke-width="1.6" points="${pts}"/>`;
    inner += `<rect x="${W - R + 10}" y="${T + 16 * k}" width="10" height="10" fill="${palette[k % palette.length]}"/><text x="${W - R + 24}" y="${T + 16 * k + 9}">${esc(s.name)}</text>`;
  });
  if (opts.markers?.length) inner += `<text x="${W - R + 10}" y="${T + 16 * opts.series.length + 9}" fill="#777">- - re-plan</text>`;
  return { mime: 'image/svg+xml', data: frame(opts.title, inner), name: opts.title, text: sparklines(opts.title, opts.series, lo, hi, opts.markers) };
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

export function barChart(opts: { title: string; labels: string[]; values: number[]; yLabel?: string }): Displayable {
  const hi = Math.max(1e-12, ...opts.values);
  const bw = (W - L - R) / Math.max(1, opts.values.length);
  let inner = `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/>`;
  opts.values.forEach((v, i) => {
    const h = ((H - T - B) * v) / hi;
    inner += `<rect data-bar="${esc(opts.labels[i]!)}" x="${L + i * bw + 2}" y="${H - B - h}" width="${Math.max(1, bw - 4)}" height="${h}" fill="${palette[0]}"/>`;
    inner += `<text x="${L + i * bw + bw / 2}" y="${H - B + 14}" text-anchor="middle">${esc(opts.labels[i]!)}</text><text x="${L + i * bw + bw / 2}" y="${H - B - h - 3}" text-anchor="middle">${num(v)}</text>`;
  });
  if (opts.yLabel) inner += `<text x="12" y="${(T + H - B) / 2}" transform="rotate(-90 12 ${(T + H - B) / 2})" text-anchor="middle">${esc(opts.yLabel)}</text>`;
  return { mime: 'image/svg+xml', data: frame(opts.title, inner), name: opts.title };
}

/** rows × columns of values, darker is more (e.g. replicas of each expert on each device). */
export function heatMap(opts: { title: string; rowLabels: string[]; colLabels: string[]; values: number[][] }): Displayable {
  const hi = Math.max(1e-12, ...opts.values.flat());
  const cw = (W - L - R) / Math.max(1, opts.colLabels.length), ch = (H - T - B) / Math.max(1, opts.rowLabels.length);
  let inner = '';
  opts.values.forEach((row, r) => {
    inner += `<text x="${L - 4}" y="${T + r * ch + ch / 2 + 4}" text-anchor="end">${esc(opts.rowLabels[r]!)}</text>`;
    row.forEach((v, c) => {
      const shade = Math.round(255 - 200 * (v / hi));
      inner += `<rect x="${L + c * cw}" y="${T + r * ch}" width="${cw - 1}" height="${ch - 1}" fill="rgb(${shade},${shade},255)"/>`;
    });
  });
  opts.colLabels.forEach((l, c) => (inner += `<text x="${L + c * cw + cw / 2}" y="${H - B + 14}" text-anchor="middle">${esc(l)}</text>`));
  return { mime: 'image/svg+xml', data: frame(opts.title, inner), name: opts.title };
}

/** A Markdown table (for speedups and summaries). */
export function table(head: string[], rows: (string | number)[][]): Displayable {
  const fmt = (v: string | number) => (typeof v === 'number' ? num(v) : v);
  return { mime: 'text/markdown', data: [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(fmt).join(' | ')} |`)].join('\n') };
}
