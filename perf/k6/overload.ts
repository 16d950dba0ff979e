/**
 * k6 load of POST /caption for perf/overload-bench.ts (npm run bench:overload), which starts it,
 * reads what it logs and prints the figures. It can also be run by hand:
 *
 *   k6 run -q --console-output=/tmp/requests.log --log-format=raw \
 *     -e BASE_URL=http://localhost:8080 -e IMAGES=/abs/a.png,/abs/b.png \
 *     -e PHASES=1x:100:20s,3x:300:20s perf/k6/overload.ts
 *
 * Two modes:
 *  - PHASES set (open model): one `constant-arrival-rate` scenario per phase, back to back (each
 *    starts when the one before ends; the requests still in flight then finish under the
 *    phase's gracefulStop, so the load never pauses between phases). `PHASES` is
 *    `name:rate:duration,...` (rate in requests/s, duration as k6 writes it: 20s, 500ms).
 *    PRE_ALLOCATED_VUS and MAX_VUS (one number, or one per phase) size each phase's VUs: k6 starts
 *    the pre-allocated ones before the run and more, up to the maximum, only when requests wait
 *    longer (each costs about a millisecond of CPU to start, and thousands of idle VUs cost its
 *    garbage collector, on the CPU the gateway shares); past the maximum it drops iterations.
 *  - otherwise (closed model): `constant-vus` with VUS clients for DURATION, each sending the
 *    next request when the last answered (the capacity measurement).
 *
 * Each request is the image as a raw `image/png` body (the options in the query string, QUERY,
 * e.g. `num_beams=8`), the cheapest upload for both sides. A VU opens one image, IMAGES[VU mod n]
 * (open() copies a file into every VU that opens it, and the overload phases run thousands).
 *
 * Every answer is one console line, which --console-output=FILE with --log-format=raw writes as
 * is (no k6 metric output is needed, so k6 spends its CPU on the load):
 *
 *   R <phase> <sent epoch ms> <status> <duration ms> <wait ms> <Retry-After or -> <code or ->
 *
 * duration is k6's http_req_duration (sending + waiting + receiving); wait is the time before
 * sending (blocked + connecting: a free connection, the TCP handshake); status 0 is no answer
 * (code is then k6's error code, e.g. 1050 for its own timeout); code is the problem+json `code`
 * of a non-200. setup() logs `T0 <epoch ms>`, the moment the scenarios' clock starts.
 * handleSummary writes SUMMARY_JSON: dropped_iterations in all and per phase, and the most VUs.
 *
 * Environment (k6 -e NAME=value): BASE_URL (http://localhost:8080), IMAGES (required: absolute
 * paths, comma-separated), QUERY (''), PHASES, PRE_ALLOCATED_VUS (64), MAX_VUS (as pre-allocated),
 * VUS (8), DURATION (10s),
 * GRACEFUL_STOP (10s: at least the client timeout), REQUEST_TIMEOUT (client timeout, 10s),
 * SUMMARY_JSON (overload-summary.json).
 *
 * Only k6 modules are imported: k6 runs this in its own JavaScript runtime.
 */
import execution from 'k6/execution';
import http from 'k6/http';
import type { Options, Scenario } from 'k6/options';
import { durationMs } from './k6-duration.ts';

// k6 has console (its log), which @types/k6 does not declare.
declare const console: { log(...values: unknown[]): void };

const env = (name: string, fallback: string): string => {
  const v = __ENV[name];
  return v === undefined || v === '' ? fallback : v;
};
const positive = (name: string, text: string): number => {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number, got '${text}'`);
  return v;
};

const BASE_URL = env('BASE_URL', 'http://localhost:8080').replace(/\/+$/, '');
const QUERY = env('QUERY', '');
const URL = `${BASE_URL}/caption${QUERY === '' ? '' : `?${QUERY}`}`;
const REQUEST_TIMEOUT = env('REQUEST_TIMEOUT', '10s');
const GRACEFUL_STOP = env('GRACEFUL_STOP', '10s');
const SUMMARY_JSON = env('SUMMARY_JSON', 'overload-summary.json');

// ---- the image: open() works only in the init context, which every VU runs (__VU 0 first) ----
const IMAGE_PATHS = env('IMAGES', '').split(',').filter((p) => p !== '');
if (IMAGE_PATHS.length === 0) throw new Error('IMAGES must list the PNG files to upload (absolute paths, comma-separated)');
// k6 lets a VU open only files that the first init (__VU 0) opened: that one opens them all.
const IMAGE: ArrayBuffer = __VU === 0 ? IMAGE_PATHS.map((p) => open(p, 'b'))[0]! : open(IMAGE_PATHS[__VU % IMAGE_PATHS.length]!, 'b');

// ---- scenarios ----
export interface Phase {
  readonly name: string;
  readonly rate: number;
  readonly duration: string;
}

/** `name:rate:duration,...` as phases. */
export function parsePhases(text: string): Phase[] {
  return text.split(',').map((item) => {
    const [name, rate, duration, ...rest] = item.split(':');
    if (name === undefined || !/^[A-Za-z0-9_-]+$/.test(name) || rate === undefined || duration === undefined || rest.length > 0) {
      throw new Error(`PHASES item '${item}' is not name:rate:duration`);
    }
    durationMs(duration);
    return { name, rate: Math.round(positive('rate', rate)), duration };
  });
}

const scenarios: Record<string, Scenario> = {};
const PHASES = env('PHASES', '');
if (PHASES !== '') {
  const phases = parsePhases(PHASES);
  const perPhase = (name: string, fallback: string): number[] => {
    const vus = env(name, fallback).split(',').map((v) => Math.ceil(positive(name, v)));
    if (vus.length !== 1 && vus.length !== phases.length) throw new Error(`${name} has ${vus.length} numbers for ${phases.length} phases`);
    return phases.map((_, i) => vus[vus.length === 1 ? 0 : i]!);
  };
  const preAllocated = perPhase('PRE_ALLOCATED_VUS', '64');
  const max = perPhase('MAX_VUS', env('PRE_ALLOCATED_VUS', '64'));
  let startMs = 0;
  phases.forEach((p, i) => {
    scenarios[p.name] = {
      executor: 'constant-arrival-rate',
      rate: p.rate,
      timeUnit: '1s',
      duration: p.duration,
      preAllocatedVUs: Math.min(preAllocated[i]!, max[i]!),
      maxVUs: max[i]!,
      startTime: `${startMs}ms`,
      gracefulStop: GRACEFUL_STOP,
    };
    startMs += durationMs(p.duration);
  });
} else {
  scenarios['closed'] = { executor: 'constant-vus', vus: Math.ceil(positive('VUS', env('VUS', '8'))), duration: env('DURATION', '10s'), gracefulStop: GRACEFUL_STOP };
}

// Thresholds that always hold, only so that the summary carries each phase's sub-metric.
const thresholds: Record<string, string[]> = {};
for (const name of Object.keys(scenarios)) thresholds[`dropped_iterations{scenario:${name}}`] = ['count>=0'];

export const options: Options = {
  scenarios,
  thresholds,
  // No k6 metric output is read: the per-request lines are.
  summaryTrendStats: ['med', 'p(99)', 'max'],
};

export function setup(): void {
  console.log(`T0 ${Date.now()}`);
}

const CODE = /"code"\s*:\s*"([A-Z0-9_]+)"/;

/** One request; one line about its answer. */
export default function (): void {
  const sent = Date.now();
  const res = http.post(URL, IMAGE, {
    headers: { 'Content-Type': 'image/png' },
    timeout: REQUEST_TIMEOUT,
    responseType: 'text',
    tags: { name: 'POST /caption' },
  });
  const t = res.timings;
  const retryAfter = res.headers['Retry-After'];
  let code = '-';
  if (res.status === 0) code = String(res.error_code);
  else if (res.status !== 200 && typeof res.body === 'string') code = CODE.exec(res.body)?.[1] ?? '-';
  const ra = retryAfter === undefined || retryAfter === '' ? '-' : retryAfter.replace(/\s+/g, '_');
  console.log(`R ${execution.scenario.name} ${sent} ${res.status} ${t.duration.toFixed(2)} ${(t.blocked + t.connecting).toFixed(2)} ${ra} ${code}`);
}

interface SummaryData {
  readonly metrics: Record<string, { readonly values: Record<string, number> }>;
}

/** SUMMARY_JSON: dropped iterations in all and per phase, the most VUs; nothing on stdout. */
export function handleSummary(data: SummaryData): Record<string, string> {
  const dropped = (name: string) => data.metrics[name]?.values['count'] ?? 0;
  const perPhase = Object.fromEntries(Object.keys(scenarios).map((n) => [n, dropped(`dropped_iterations{scenario:${n}}`)]));
  const vusMax = data.metrics['vus_max']?.values['max'] ?? data.metrics['vus_max']?.values['value'];
  return { [SUMMARY_JSON]: JSON.stringify({ droppedIterations: dropped('dropped_iterations'), droppedPerPhase: perPhase, vusMax }) };
}
