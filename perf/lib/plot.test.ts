/**
 * perf/lib/plot: the SVG is well-formed XML (every tag closed and nested, attributes quoted),
 * has one bar per percentile per row and one point per row, axis labels and escaped text.
 * Run: node --import tsx --test perf/lib/plot.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { latencyChartSvg, throughputChartSvg, writeLatencyChart, writeThroughputChart } from './plot.js';

/** A strict little XML well-formedness check: tags balance, attributes are name="value", no stray '<' or '&'. */
function assertWellFormed(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let roots = 0;
  let pos = 0;
  while ((m = token.exec(body)) !== null) {
    pos = token.lastIndex;
    if (m[5] !== undefined) {
      if (stack.length === 0) assert.match(m[5], /^\s*$/, 'text outside the root element');
      assert.doesNotMatch(m[5].replace(/&(#\d+|#x[\da-f]+|amp|lt|gt|quot|apos);/gi, ''), /&/, 'unescaped &');
      continue;
    }
    const [, closing, name, , selfClosing] = m;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) roots++;
  }
  assert.equal(pos, body.length, `unparsable at '${body.slice(pos, pos + 40)}'`);
  assert.deepEqual(stack, [], 'unclosed elements');
  assert.equal(roots, 1);
  assert.match(body, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
}

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;
const rows = [
  { concurrency: 1, p50: 160, p90: 360, p99: 577, rps: 4.8 },
  { concurrency: 8, p50: 408, p90: 1858, p99: 2339, rps: 13.6 },
  { concurrency: 16, p50: 445, p90: 624, p99: 719, rps: 33.6 },
];

describe('perf/lib/plot', () => {
  it('(the well-formedness check rejects broken XML)', () => {
    assert.doesNotThrow(() => assertWellFormed('<svg xmlns="http://www.w3.org/2000/svg"><g a="1"><rect/></g></svg>'));
    for (const bad of ['<svg xmlns="http://www.w3.org/2000/svg"><g></svg>', '<svg xmlns="http://www.w3.org/2000/svg"><rect x=1/></svg>', '<svg xmlns="http://www.w3.org/2000/svg">a & b</svg>', '<svg xmlns="http://www.w3.org/2000/svg"></svg><svg xmlns="http://www.w3.org/2000/svg"></svg>', '<svg xmlns="http://www.w3.org/2000/svg"><a<b></svg>']) {
      assert.throws(() => assertWellFormed(bad), assert.AssertionError, bad);
    }
  });

  it('latency chart: well-formed SVG, three bars per row, axis labels, a legend', () => {
    const svg = latencyChartSvg(rows, { title: 'POST /caption <gateway> & co' });
    assertWellFormed(svg);
    assert.equal(count(svg, /<rect class="bar /g), rows.length * 3);
    for (const p of ['p50', 'p90', 'p99']) assert.equal(count(svg, new RegExp(`class="bar ${p}"`, 'g')), rows.length);
    assert.match(svg, />concurrency</);
    assert.match(svg, />latency \(ms\)</);
    for (const r of rows) assert.match(svg, new RegExp(`class="tick"[^>]*>${r.concurrency}</text>`));
    assert.match(svg, /&#60;gateway&#62; &#38; co/);
    // Taller bar for the larger value; every bar inside the plot area.
    const heights = [...svg.matchAll(/class="bar p99"[^>]* height="([\d.]+)"/g)].map((m) => Number(m[1]));
    assert.ok(heights[1]! > heights[2]! && heights[2]! > heights[0]!);
    for (const m of svg.matchAll(/class="bar [^"]+" x="([\d.-]+)" y="([\d.-]+)"/g)) assert.ok(Number(m[1]) >= 72 && Number(m[2]) >= 48);
  });

  it('throughput chart: one point per row on one line, axis labels', () => {
    const svg = throughputChartSvg(rows);
    assertWellFormed(svg);
    assert.equal(count(svg, /<circle class="point"/g), rows.length);
    assert.equal(count(svg, /<polyline /g), 1);
    assert.match(svg, />requests\/s</);
    assert.match(svg, />concurrency</);
    const ys = [...svg.matchAll(/class="point" cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    assert.ok(ys[0]! > ys[1]! && ys[1]! > ys[2]!, 'more requests/s is higher up');
  });

  it('skips values that are not finite, and refuses no rows', () => {
    const svg = latencyChartSvg([{ concurrency: 1, p50: 1, p90: NaN, p99: 3 }]);
    assertWellFormed(svg);
    assert.equal(count(svg, /<rect class="bar /g), 2);
    assert.doesNotMatch(svg, /NaN/);
    assert.doesNotMatch(throughputChartSvg([{ concurrency: 1, rps: 0 }]), /NaN|Infinity/);
    assert.throws(() => throughputChartSvg([]), RangeError);
  });

  it('writes the files, creating folders', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plot-'));
    try {
      const a = writeLatencyChart(join(dir, 'sub', 'latency.svg'), rows);
      const b = writeThroughputChart(join(dir, 'sub', 'throughput.svg'), rows, { title: 'rps' });
      assert.equal(readFileSync(a, 'utf8'), latencyChartSvg(rows));
      assert.match(readFileSync(b, 'utf8'), />rps</);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
