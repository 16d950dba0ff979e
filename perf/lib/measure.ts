/**
 * @module perf/lib/measure
 * Small measurement helpers shared by the benchmarks: percentiles, closed-loop load (also in
 * windows until stable, as perf_analyzer measures), tables.
 */

/** The arithmetic mean of `samples` (NaN when empty). */
export function mean(samples: readonly number[]): number {
  return samples.reduce((a, b) => a + b, 0) / samples.length;
}

/** The p-th percentile (0..100) of `samples`, by nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  /** Per-request latencies in milliseconds. */
  readonly latenciesMs: number[];
}

/** Several runs of the same load (rounds) as one. */
export function mergeLoads(results: readonly LoadResult[]): LoadResult {
  return {
    requests: results.reduce((n, r) => n + r.requests, 0),
    errors: results.reduce((n, r) => n + r.errors, 0),
    seconds: results.reduce((n, r) => n + r.seconds, 0),
    latenciesMs: results.flatMap((r) => r.latenciesMs),
  };
}

/** What a load table prints: counts, latency percentiles (ms) and throughput (requests/s). */
export interface LoadSummary {
  readonly requests: number;
  readonly errors: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly rps: number;
}

export function summariseLoad(r: LoadResult): LoadSummary {
  const [p50, p90, p99] = [50, 90, 99].map((p) => percentile(r.latenciesMs, p)) as [number, number, number];
  return { requests: r.requests, errors: r.errors, p50, p90, p99, rps: r.requests / r.seconds };
}

/**
 * Closed-loop load: `concurrency` workers each send the next request as soon as the previous
 * answered, for `seconds` and at least `minRequests` requests in total.
 */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  send: () => Promise<unknown>,
  minRequests = 0,
): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let errors = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline || latenciesMs.length + errors < minRequests) {
      const t0 = performance.now();
      try {
        await send();
        latenciesMs.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { requests: latenciesMs.length, errors, seconds: (performance.now() - start) / 1000, latenciesMs };
}

/**
 * perf_analyzer's stability rule: the last `count` windows are stable when each one's throughput
 * and p50 latency lie within `tolerance` (10 %, its `-s`) of their mean over those windows.
 */
export function stableWindows(windows: readonly LoadResult[], tolerance = 0.1, count = 3): boolean {
  if (windows.length < count) return false;
  const last = windows.slice(-count).map(summariseLoad);
  const agree = (xs: number[]) => {
    const m = mean(xs);
    return xs.every((x) => Math.abs(x - m) <= tolerance * m);
  };
  return agree(last.map((w) => w.rps)) && agree(last.map((w) => w.p50));
}

export interface StableLoad {
  /** The last three windows as one. */
  readonly result: LoadResult;
  /** Windows run, the last three included. */
  readonly windows: number;
  /** False when `maxWindows` ran out before the last three agreed. */
  readonly stable: boolean;
}

/**
 * Closed-loop windows of at least `requests` requests each, until the last three are stable
 * ({@link stableWindows}) or `maxWindows` have run, as perf_analyzer does for each load level: a
 * server whose JIT or caches still warm up is measured once it has settled. `onWindow` runs
 * before each window (to reset per-window records).
 */
export async function loadUntilStable(
  concurrency: number,
  send: () => Promise<unknown>,
  requests: number,
  { maxWindows = 10, tolerance = 0.1, onWindow = () => {} }: { maxWindows?: number; tolerance?: number; onWindow?: () => void } = {},
): Promise<StableLoad> {
  const windows: LoadResult[] = [];
  do {
    onWindow();
    windows.push(await closedLoop(concurrency, 0, send, requests));
  } while (!stableWindows(windows, tolerance) && windows.length < maxWindows);
  return { result: mergeLoads(windows.slice(-3)), windows: windows.length, stable: stableWindows(windows, tolerance) };
}

/** Prints rows as an aligned text table. */
export function printTable(title: string, header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): void {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  console.log(`\n${title}`);
  for (const [i, r] of cells.entries()) {
    console.log(r.map((c, j) => String(c).padStart(widths[j]!)).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(3);
}
