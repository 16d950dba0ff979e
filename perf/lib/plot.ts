/**
 * @module perf/lib/plot
 * Benchmark charts as standalone SVG files: latency percentiles (p50/p90/p99 as grouped bars per
 * concurrency) and throughput (requests/s per concurrency, a line with one point per level).
 *
 * Hand-written rather than a charting package: two bar/line charts are about a hundred lines of
 * SVG text, while the charting libraries want a DOM or a canvas (d3, chart.js, vega need jsdom or
 * node-canvas to run headless), native builds or a browser, which this 2-core CI and the lockfile
 * do without. The output is plain SVG 1.1 that browsers, GitHub and image viewers show as is.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface LatencyRow {
  readonly concurrency: number;
  /** Milliseconds. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}
export interface ThroughputRow {
  readonly concurrency: number;
  /** Requests per second. */
  readonly rps: number;
}
export interface ChartOptions {
  readonly title?: string;
  readonly width?: number;
  readonly height?: number;
}

const PERCENTILES = [
  { key: 'p50', colour: '#4c78a8' },
  { key: 'p90', colour: '#f58518' },
  { key: 'p99', colour: '#e45756' },
] as const;
const M = { top: 48, right: 24, bottom: 56, left: 72 };

const esc = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (n: number): string => String(Math.round(n * 10) / 10);
const label = (n: number): string => (Math.abs(n) >= 1000 ? String(Math.round(n)) : String(Number(n.toPrecision(4))));

/** Ticks from 0 to at least `max` at a 1, 2 or 5 × 10^k step. */
function ticks(max: number): number[] {
  const top = max > 0 && Number.isFinite(max) ? max : 1;
  const raw = top / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
  return Array.from({ length: Math.ceil(top / step - 1e-9) + 1 }, (_, i) => i * step);
}

/** The frame shared by both charts: title, y grid with tick labels, x category labels, axis titles. */
function frame(o: Required<ChartOptions>, categories: readonly number[], yMax: number, yTitle: string, body: (x: (i: number) => number, band: number, y: (v: number) => number) => string[]): string {
  if (categories.length === 0) throw new RangeError('a chart needs at least one row');
  const w = o.width - M.left - M.right;
  const h = o.height - M.top - M.bottom;
  const ys = ticks(yMax);
  const top = ys[ys.length - 1]!;
  const y = (v: number) => M.top + h - (Math.max(0, v) / top) * h;
  const band = w / categories.length;
  const x = (i: number) => M.left + band * (i + 0.5);
  const parts = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${o.width}" height="${o.height}" viewBox="0 0 ${o.width} ${o.height}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${o.width}" height="${o.height}" fill="#ffffff"/>`,
    `<text class="title" x="${o.width / 2}" y="24" text-anchor="middle" font-size="15">${esc(o.title)}</text>`,
    ...ys.map((t) => `<line class="grid" x1="${M.left}" x2="${M.left + w}" y1="${num(y(t))}" y2="${num(y(t))}" stroke="#dddddd"/><text class="tick" x="${M.left - 6}" y="${num(y(t) + 4)}" text-anchor="end">${label(t)}</text>`),
    `<line class="axis" x1="${M.left}" x2="${M.left + w}" y1="${M.top + h}" y2="${M.top + h}" stroke="#333333"/>`,
    `<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + h}" stroke="#333333"/>`,
    ...categories.map((c, i) => `<text class="tick" x="${num(x(i))}" y="${M.top + h + 18}" text-anchor="middle">${label(c)}</text>`),
    `<text class="axis-label" x="${M.left + w / 2}" y="${o.height - 12}" text-anchor="middle">concurrency</text>`,
    `<text class="axis-label" transform="translate(18 ${M.top + h / 2}) rotate(-90)" text-anchor="middle">${esc(yTitle)}</text>`,
    ...body(x, band, y),
    `</svg>`,
  ];
  return `${parts.join('\n')}\n`;
}

const opts = (o: ChartOptions, title: string): Required<ChartOptions> => ({ title, width: 640, height: 400, ...o });
const finite = (v: number) => Number.isFinite(v);

/** Grouped bars: p50, p90, p99 per concurrency level. A value that is not finite draws no bar. */
export function latencyChartSvg(rows: readonly LatencyRow[], options: ChartOptions = {}): string {
  const o = opts(options, 'Latency percentiles');
  const yMax = Math.max(0, ...rows.flatMap((r) => PERCENTILES.map((p) => r[p.key])).filter(finite));
  return frame(o, rows.map((r) => r.concurrency), yMax, 'latency (ms)', (x, band, y) => {
    const bw = (band * 0.8) / PERCENTILES.length;
    const bars = rows.flatMap((r, i) =>
      PERCENTILES.filter((p) => finite(r[p.key])).map((p) => {
        const k = PERCENTILES.indexOf(p);
        const left = x(i) - (bw * PERCENTILES.length) / 2 + k * bw;
        return `<rect class="bar ${p.key}" x="${num(left)}" y="${num(y(r[p.key]))}" width="${num(bw - 1)}" height="${num(y(0) - y(r[p.key]))}" fill="${p.colour}"><title>concurrency ${r.concurrency} ${p.key} ${label(r[p.key])} ms</title></rect>`;
      }),
    );
    const legend = PERCENTILES.map((p, k) => `<rect class="legend" x="${o.width - M.right - 150 + k * 50}" y="32" width="10" height="10" fill="${p.colour}"/><text x="${o.width - M.right - 136 + k * 50}" y="41">${p.key}</text>`);
    return [...bars, ...legend];
  });
}

/** Requests/s per concurrency level: a line through one point per row. */
export function throughputChartSvg(rows: readonly ThroughputRow[], options: ChartOptions = {}): string {
  const o = opts(options, 'Throughput');
  const yMax = Math.max(0, ...rows.map((r) => r.rps).filter(finite));
  return frame(o, rows.map((r) => r.concurrency), yMax, 'requests/s', (x, _band, y) => {
    const pts = rows.map((r, i) => ({ r, px: x(i), py: y(r.rps) })).filter((p) => finite(p.r.rps));
    return [
      `<polyline class="line" fill="none" stroke="#4c78a8" stroke-width="2" points="${pts.map((p) => `${num(p.px)},${num(p.py)}`).join(' ')}"/>`,
      ...pts.map((p) => `<circle class="point" cx="${num(p.px)}" cy="${num(p.py)}" r="4" fill="#4c78a8"><title>concurrency ${p.r.concurrency}: ${label(p.r.rps)} req/s</title></circle>`),
    ];
  });
}

function write(file: string, svg: string): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, svg);
  return file;
}

/** Writes {@link latencyChartSvg} of `rows` to `file` (folders created); returns `file`. */
export const writeLatencyChart = (file: string, rows: readonly LatencyRow[], options?: ChartOptions): string => write(file, latencyChartSvg(rows, options));

/** Writes {@link throughputChartSvg} of `rows` to `file` (folders created); returns `file`. */
export const writeThroughputChart = (file: string, rows: readonly ThroughputRow[], options?: ChartOptions): string => write(file, throughputChartSvg(rows, options));
