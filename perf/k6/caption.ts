/**
 * k6 load test of the gateway: POST /caption and POST /classify with real JPEG uploads (generated
 * food scenes, perf/k6/images/, written by `npm run perf:k6-images`) as multipart field `image`.
 *
 * Run from the repository root with k6 v1.x, which runs TypeScript directly:
 *
 *   mkdir -p perf/results
 *   k6 run perf/k6/caption.ts                                   # both scenarios, one after the other
 *   k6 run -e BASE_URL=http://gw:8080 -e SCENARIO=ramp perf/k6/caption.ts
 *
 * Scenarios (the `scenario` tag of every sample):
 *  - `ramp`   ramping-arrival-rate (open model: requests arrive whether or not earlier ones have
 *             answered, so queueing shows up as latency; dropped_iterations > 0 fails the run);
 *  - `steady` constant-vus (closed model: VUS clients each send the next request when the last
 *             answered), started when `ramp` has finished so their figures do not mix.
 * Every iteration sends one request: to /caption or /classify, interleaved by CAPTION_SHARE, each
 * request tagged `endpoint:caption|classify`, so thresholds and the summary report p95 per
 * scenario and endpoint. The gateway's Server-Timing stages go to the `gateway_stage_ms` trend.
 *
 * Environment (k6 -e NAME=value), all optional:
 *   BASE_URL          gateway URL                       http://localhost:8080
 *   SCENARIO          ramp | steady | both              both
 *   CAPTION_SHARE     share of iterations to /caption   0.5
 *   RAMP_START_RATE   requests/s at the start of ramp   1
 *   RAMP_PEAK_RATE    requests/s at the top of ramp     10
 *   RAMP_UP           time to reach the peak            30s
 *   RAMP_HOLD         time held at the peak             30s
 *   PRE_ALLOCATED_VUS / MAX_VUS  VUs for ramp           8 / 32
 *   VUS               constant VUs of steady            8
 *   STEADY_DURATION   length of steady                  1m
 *   P95_CAPTION_MS / P95_CLASSIFY_MS  p95 thresholds    2000 / 1000
 *   MAX_FAILED_RATE   http_req_failed threshold         0.01
 *   CAPTION_QUERY / CLASSIFY_QUERY  extra query string  '' (e.g. num_beams=3, top_k=3)
 *   REQUEST_TIMEOUT   per-request timeout               30s
 *   SUMMARY_JSON      handleSummary's JSON file         perf/results/k6-summary.json
 *
 * Only k6 modules are imported (no Node built-ins): k6 runs this in its own JavaScript runtime.
 * perf/k6/k6-script.test.ts runs it under the real k6 against a gateway (thresholds must hold).
 */
import { check } from 'k6';
import execution from 'k6/execution';
import http from 'k6/http';
import { Trend } from 'k6/metrics';
import type { Options, Scenario } from 'k6/options';
import { durationMs } from './k6-duration.ts';

const env = (name: string, fallback: string): string => {
  const v = __ENV[name];
  return v === undefined || v === '' ? fallback : v;
};
const num = (name: string, fallback: number): number => {
  const v = Number(env(name, String(fallback)));
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number, got '${__ENV[name]}'`);
  return v;
};

const BASE_URL = env('BASE_URL', 'http://localhost:8080').replace(/\/+$/, '');
const SUMMARY_JSON = env('SUMMARY_JSON', 'perf/results/k6-summary.json');
const CAPTION_SHARE = Math.min(1, num('CAPTION_SHARE', 0.5));
const REQUEST_TIMEOUT = env('REQUEST_TIMEOUT', '30s');
const CAPTION_QUERY = env('CAPTION_QUERY', '');
const CLASSIFY_QUERY = env('CLASSIFY_QUERY', '');
const ENDPOINTS = ['caption', 'classify'] as const;
type Endpoint = (typeof ENDPOINTS)[number];
const P95_MS: Record<Endpoint, number> = { caption: num('P95_CAPTION_MS', 2000), classify: num('P95_CLASSIFY_MS', 1000) };

// ---- images: open() works only here, in the init context; paths are relative to this file ----
/** Keep equal to make-images.ts --count (default 8). */
const IMAGE_COUNT = 8;
const IMAGES: ReadonlyArray<{ readonly name: string; readonly data: ArrayBuffer }> = Array.from({ length: IMAGE_COUNT }, (_, i) => {
  const name = `scene-${i}.jpg`;
  return { name, data: open(`./images/${name}`, 'b') };
});

// ---- scenarios ----
/** Seconds in a k6 duration such as "30s", "1m30s", "500ms", "2h". */
const seconds = (duration: string) => durationMs(duration) / 1000;

const GRACEFUL_STOP = '10s';
const rampStages = [
  { target: num('RAMP_PEAK_RATE', 10), duration: env('RAMP_UP', '30s') },
  { target: num('RAMP_PEAK_RATE', 10), duration: env('RAMP_HOLD', '30s') },
  { target: 0, duration: '5s' },
];
const rampSeconds = rampStages.reduce((t, s) => t + seconds(s.duration), 0) + seconds(GRACEFUL_STOP);

const SCENARIO = env('SCENARIO', 'both');
if (!['ramp', 'steady', 'both'].includes(SCENARIO)) throw new Error(`SCENARIO must be ramp, steady or both, got '${SCENARIO}'`);

const scenarios: Record<string, Scenario> = {};
if (SCENARIO !== 'steady') {
  scenarios['ramp'] = {
    executor: 'ramping-arrival-rate',
    startRate: num('RAMP_START_RATE', 1),
    timeUnit: '1s',
    stages: rampStages,
    preAllocatedVUs: num('PRE_ALLOCATED_VUS', 8),
    maxVUs: num('MAX_VUS', 32),
    gracefulStop: GRACEFUL_STOP,
  };
}
if (SCENARIO !== 'ramp') {
  scenarios['steady'] = {
    executor: 'constant-vus',
    vus: num('VUS', 8),
    duration: env('STEADY_DURATION', '1m'),
    // After ramp (its stages and graceful stop), so the two never overlap.
    startTime: SCENARIO === 'both' ? `${rampSeconds}s` : '0s',
    gracefulStop: GRACEFUL_STOP,
  };
}

const thresholds: Record<string, string[]> = {
  http_req_failed: [`rate<${num('MAX_FAILED_RATE', 0.01)}`],
  checks: ['rate>0.99'],
  // An open-model run that ran out of VUs did not offer the load it claims: not a valid run.
  dropped_iterations: ['count<1'],
};
// One threshold per scenario and endpoint; k6 also reports these sub-metrics in the summary.
for (const scenario of Object.keys(scenarios)) {
  for (const endpoint of ENDPOINTS) {
    thresholds[`http_req_duration{scenario:${scenario},endpoint:${endpoint}}`] = [`p(95)<${P95_MS[endpoint]}`];
  }
}

export const options: Options = {
  scenarios,
  thresholds,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'],
  discardResponseBodies: false,
};

// ---- requests ----
/** Time per gateway stage, from the Server-Timing header (tags: endpoint, stage). */
const stageMs = new Trend('gateway_stage_ms', true);

function post(endpoint: Endpoint, query: string, iteration: number) {
  const image = IMAGES[iteration % IMAGES.length]!;
  const url = `${BASE_URL}/${endpoint}${query === '' ? '' : `?${query}`}`;
  const res = http.post(url, { image: http.file(image.data, image.name, 'image/jpeg') }, {
    tags: { endpoint, name: `POST /${endpoint}` },
    timeout: REQUEST_TIMEOUT,
  });
  const timing = res.headers['Server-Timing'] ?? '';
  const re = /([\w-]+);dur=([\d.]+)/g;
  for (let m = re.exec(timing); m !== null; m = re.exec(timing)) stageMs.add(Number(m[2]), { endpoint, stage: m[1]! });
  return res;
}

function jsonBody(body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const v: unknown = JSON.parse(body);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** POST /caption once; checks status 200 and a non-empty caption. */
export function caption(iteration: number = execution.scenario.iterationInTest): void {
  const res = post('caption', CAPTION_QUERY, iteration);
  check(
    res,
    {
      'caption: status 200': (r) => r.status === 200,
      'caption: non-empty caption': (r) => {
        const c = jsonBody(r.body)?.['caption'];
        return typeof c === 'string' && c.trim() !== '';
      },
    },
    { endpoint: 'caption' },
  );
}

/** POST /classify once; checks status 200 and at least one label. */
export function classify(iteration: number = execution.scenario.iterationInTest): void {
  const res = post('classify', CLASSIFY_QUERY, iteration);
  check(
    res,
    {
      'classify: status 200': (r) => r.status === 200,
      'classify: labels': (r) => {
        const labels = jsonBody(r.body)?.['labels'];
        return Array.isArray(labels) && labels.length > 0;
      },
    },
    { endpoint: 'classify' },
  );
}

/** One request per iteration: /caption for a CAPTION_SHARE of iterations, spread evenly, else /classify. */
export default function (): void {
  const i = execution.scenario.iterationInTest;
  if (Math.floor((i + 1) * CAPTION_SHARE) > Math.floor(i * CAPTION_SHARE)) caption(i);
  else classify(i);
}

// ---- summary ----
interface SummaryMetric {
  readonly type: string;
  readonly contains?: string;
  readonly values: Record<string, number>;
  readonly thresholds?: Record<string, { readonly ok: boolean }>;
}
interface SummaryData {
  readonly metrics: Record<string, SummaryMetric>;
  readonly state?: { readonly testRunDurationMs?: number };
}

const fixed = (v: number | undefined, digits = 1): string => (v === undefined ? '-' : v.toFixed(digits));

/** The run as text: thresholds, then latency per scenario and endpoint, then totals. */
export function textSummary(data: SummaryData): string {
  const lines: string[] = [`k6 run against ${BASE_URL} (${fixed((data.state?.testRunDurationMs ?? 0) / 1000)} s)`, '', 'thresholds:'];
  const names = Object.keys(data.metrics).sort();
  for (const name of names) {
    for (const [expr, t] of Object.entries(data.metrics[name]!.thresholds ?? {})) lines.push(`  ${t.ok ? 'ok  ' : 'FAIL'} ${name}: ${expr}`);
  }
  lines.push('', 'latency ms            count      p50      p90      p95      p99      max');
  for (const name of names.filter((n) => n.startsWith('http_req_duration'))) {
    const v = data.metrics[name]!.values;
    const cells = [v['count'], v['med'], v['p(90)'], v['p(95)'], v['p(99)'], v['max']].map((x, k) => fixed(x, k === 0 ? 0 : 1).padStart(8));
    lines.push(`  ${name}`, `  ${''.padEnd(18)}${cells.join(' ')}`);
  }
  const m = (name: string, key: string) => data.metrics[name]?.values[key];
  lines.push(
    '',
    `requests ${fixed(m('http_reqs', 'count'), 0)} (${fixed(m('http_reqs', 'rate'), 2)}/s), failed ${fixed((m('http_req_failed', 'rate') ?? 0) * 100, 2)} %, ` +
      `checks ${fixed((m('checks', 'rate') ?? 0) * 100, 2)} %, dropped iterations ${fixed(m('dropped_iterations', 'count') ?? 0, 0)}`,
    '',
  );
  return lines.join('\n');
}

/** stdout: the text summary; SUMMARY_JSON: k6's whole summary object. */
export function handleSummary(data: SummaryData): Record<string, string> {
  return { stdout: textSummary(data), [SUMMARY_JSON]: JSON.stringify(data, null, 2) };
}
