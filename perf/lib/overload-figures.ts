/**
 * @module perf/lib/overload-figures
 * The figures of perf/overload-bench.ts from the one line per answer that perf/k6/overload.ts
 * logs: per phase goodput (200s within the deadline), latency of the 200s and of the refusals
 * (503), counts by status, the Retry-After values seen, and how soon goodput came back after the
 * load dropped. Pure functions over the parsed lines, so they are tested without k6.
 */
import { percentile } from './measure.js';

/** One answer as k6 saw it. */
export interface Answer {
  readonly phase: string;
  /** When the VU started the request (epoch ms). */
  readonly sentMs: number;
  /** 0: no answer (k6's timeout or a connection error). */
  readonly status: number;
  /** What the client waited in all: time before sending (a connection) + k6's http_req_duration. */
  readonly latencyMs: number;
  readonly retryAfter: string | undefined;
  /** The problem+json `code` of a non-200, or k6's error code for status 0. */
  readonly code: string | undefined;
}

export interface K6Log {
  /** When the scenarios' clock started (setup()'s `T0` line), epoch ms. */
  readonly t0Ms: number | undefined;
  readonly answers: Answer[];
}

/** The lines of perf/k6/overload.ts's console log (other lines are ignored). */
export function parseK6Log(text: string): K6Log {
  let t0Ms: number | undefined;
  const answers: Answer[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    if (f[0] === 'T0' && f.length === 2) t0Ms = Number(f[1]);
    if (f[0] !== 'R' || f.length !== 8) continue;
    const [, phase, sent, status, duration, wait, retryAfter, code] = f as [string, string, string, string, string, string, string, string];
    answers.push({
      phase,
      sentMs: Number(sent),
      status: Number(status),
      latencyMs: Number(duration) + Number(wait),
      retryAfter: retryAfter === '-' ? undefined : retryAfter,
      code: code === '-' ? undefined : code,
    });
  }
  return { t0Ms, answers };
}

/** A 200 that came within the deadline: what goodput counts. */
export const isGood = (a: Answer, deadlineMs: number): boolean => a.status === 200 && a.latencyMs <= deadlineMs;

/** Seconds of a Retry-After value: delay-seconds, or an HTTP-date relative to `nowMs`. */
export function retryAfterSeconds(value: string, nowMs: number): number | undefined {
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value.replace(/_/g, ' '));
  return Number.isNaN(date) ? undefined : Math.max(0, (date - nowMs) / 1000);
}

export interface Quantiles {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

const quantiles = (xs: readonly number[]): Quantiles => ({ count: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99), max: xs.length === 0 ? NaN : Math.max(...xs) });

export interface PhaseFigures {
  readonly phase: string;
  readonly offeredPerSecond: number;
  readonly seconds: number;
  /** Requests k6 sent in the phase (offered × seconds less dropped iterations). */
  readonly sent: number;
  /** Of those, the 200s within the deadline (whenever they came). */
  readonly goodOfSent: number;
  /**
   * 200s within the deadline that came while the phase ran, whichever phase sent them, per
   * second: what the service delivered at this load. Never above capacity for long, where
   * counting by the second sent would credit a short phase with what its queue absorbed and
   * was served after it.
   */
  readonly goodputPerSecond: number;
  /** 200s' latency (ms). */
  readonly ok: Quantiles;
  /** 503s' latency (ms). */
  readonly refused: Quantiles;
  /** Answers by status ('0' for none). */
  readonly statuses: Record<string, number>;
  /** Non-200 answers by problem code (or k6 error code). */
  readonly codes: Record<string, number>;
  /** 200s that came after the deadline. */
  readonly lateOk: number;
  /** 5xx other than 503. */
  readonly other5xx: number;
  /** Requests without an answer (status 0). */
  readonly noAnswer: number;
  /** Retry-After values seen, in seconds; `unreadable` counts those neither number nor date. */
  readonly retryAfter: { readonly count: number; readonly min: number; readonly median: number; readonly max: number; readonly unreadable: number };
}

/**
 * The figures of `phase`, which ran from `startMs` for `seconds` at `offeredPerSecond`: goodput
 * from all `answers` that came in that time, the rest from the answers to what the phase sent.
 */
export function phaseFigures(answers: readonly Answer[], phase: string, offeredPerSecond: number, startMs: number, seconds: number, deadlineMs: number): PhaseFigures {
  const mine = answers.filter((a) => a.phase === phase);
  const statuses: Record<string, number> = {};
  const codes: Record<string, number> = {};
  const retry: number[] = [];
  let unreadable = 0;
  for (const a of mine) {
    statuses[a.status] = (statuses[a.status] ?? 0) + 1;
    if (a.status !== 200) codes[a.code ?? `HTTP ${a.status}`] = (codes[a.code ?? `HTTP ${a.status}`] ?? 0) + 1;
    if (a.retryAfter !== undefined) {
      const s = retryAfterSeconds(a.retryAfter, a.sentMs + a.latencyMs);
      if (s === undefined) unreadable++;
      else retry.push(s);
    }
  }
  const endMs = startMs + seconds * 1000;
  const goodInWindow = answers.filter((a) => isGood(a, deadlineMs) && a.sentMs + a.latencyMs >= startMs && a.sentMs + a.latencyMs < endMs).length;
  return {
    phase,
    offeredPerSecond,
    seconds,
    sent: mine.length,
    goodOfSent: mine.filter((a) => isGood(a, deadlineMs)).length,
    goodputPerSecond: goodInWindow / seconds,
    ok: quantiles(mine.filter((a) => a.status === 200).map((a) => a.latencyMs)),
    refused: quantiles(mine.filter((a) => a.status === 503).map((a) => a.latencyMs)),
    statuses,
    codes,
    lateOk: mine.filter((a) => a.status === 200 && a.latencyMs > deadlineMs).length,
    other5xx: mine.filter((a) => a.status >= 500 && a.status !== 503).length,
    noAnswer: mine.filter((a) => a.status === 0).length,
    retryAfter: { count: retry.length, min: retry.length ? Math.min(...retry) : NaN, median: percentile(retry, 50), max: retry.length ? Math.max(...retry) : NaN, unreadable },
  };
}

/**
 * Goodput of `phase` per 1-s bucket of the time each request was sent, from `startMs` for
 * `seconds` (whole buckets only): bucket k counts the requests sent in [k, k+1) s that got a 200
 * within the deadline, whenever it came, so a request is judged by the load it arrived into and
 * no latency shifts it into a later bucket.
 */
export function goodputBySecond(answers: readonly Answer[], phase: string, startMs: number, seconds: number, deadlineMs: number): number[] {
  const buckets = new Array<number>(Math.floor(seconds)).fill(0);
  for (const a of answers) {
    if (a.phase !== phase || !isGood(a, deadlineMs)) continue;
    const k = Math.floor((a.sentMs - startMs) / 1000);
    if (k >= 0 && k < buckets.length) buckets[k]!++;
  }
  return buckets;
}

/**
 * Seconds after the load dropped until goodput was back: the first bucket at least `fraction` of
 * `offeredPerSecond` that the next `hold - 1` buckets (as many as the phase has) also reach, so
 * one lucky second is not a recovery; undefined when there is none.
 */
export function recoverySeconds(bySecond: readonly number[], offeredPerSecond: number, fraction = 0.9, hold = 3): number | undefined {
  const ok = (b: number) => b >= fraction * offeredPerSecond;
  for (let k = 0; k < bySecond.length; k++) if (bySecond.slice(k, k + hold).every(ok)) return k;
  return undefined;
}

/** What k6's error codes (status 0) mean, for the codes a load test meets. */
export const K6_ERROR_CODES: Readonly<Record<string, string>> = {
  '1000': 'k6 generic error (e.g. connection closed)',
  '1050': 'k6 timeout',
  '1200': 'k6 TCP error',
  '1201': 'k6 broken pipe',
  '1210': 'k6 dial error',
  '1211': 'k6 dial timeout',
  '1212': 'k6 connection refused',
  '1220': 'k6 reset by peer',
};

/**
 * Closed-loop throughput: 200s per second that completed between `fromMs` and `toMs`, with
 * their latency.
 */
export function closedLoopFigures(answers: readonly Answer[], fromMs: number, toMs: number): { perSecond: number; ok: Quantiles; statuses: Record<string, number> } {
  const inWindow = answers.filter((a) => a.sentMs + a.latencyMs >= fromMs && a.sentMs + a.latencyMs < toMs);
  const statuses: Record<string, number> = {};
  for (const a of inWindow) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  const ok = inWindow.filter((a) => a.status === 200);
  return { perSecond: ok.length / ((toMs - fromMs) / 1000), ok: quantiles(ok.map((a) => a.latencyMs)), statuses };
}

/** Counts by status as `200/503/504/other` (other: any other status, and no answer). */
export function formatStatuses(statuses: Record<string, number>): string {
  const n = (s: string) => statuses[s] ?? 0;
  const other = Object.entries(statuses).reduce((t, [s, c]) => (['200', '503', '504'].includes(s) ? t : t + c), 0);
  return `${n('200')}/${n('503')}/${n('504')}/${other}`;
}
