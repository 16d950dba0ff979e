/**
 * @module admission/service-estimates
 * What admission predicts waits from, measured as work completes: each kind's recent service
 * time (an exponential average over about 16 requests, so it follows the machine getting busier
 * within a second or two) and the rate cost units leave service, counted over the last second.
 * Under overload the work in service runs slower than its long-run average says (the CPU is
 * shared with everything arriving), so the measured rate, not one inferred from averages, is what
 * a queued request really waits behind.
 */

/** Completions within this window make the measured drain rate. */
const WINDOW_MS = 1000;
/** Fewer completions than this in the window: too few to trust; the caller falls back to Little's law. */
const MIN_COMPLETIONS = 8;
/** Requests in a kind's recent average. */
const RECENT = 16;

export class ServiceEstimates {
  private readonly recent = new Map<string, { ms: number; n: number }>();
  /** Completions in the window, oldest first: when (ms since epoch) and their cost units. */
  private readonly completions: Array<{ at: number; cost: number }> = [];
  private windowCost = 0;

  /** One request of `kind` and `cost` finished at `at` after `ms` in service. */
  record(kind: string, cost: number, ms: number, at: number): void {
    const r = this.recent.get(kind) ?? { ms, n: 0 };
    r.n = Math.min(RECENT, r.n + 1);
    r.ms += (ms - r.ms) / r.n;
    this.recent.set(kind, r);
    this.completions.push({ at, cost });
    this.windowCost += cost;
    this.trim(at);
  }

  /** `kind`'s recent service time, ms; undefined before its first completion. */
  serviceMs(kind: string): number | undefined {
    return this.recent.get(kind)?.ms;
  }

  /** Cost units per ms that left service over the last second, or undefined with too few to tell. */
  drainUnitsPerMs(now: number): number | undefined {
    this.trim(now);
    return this.completions.length >= MIN_COMPLETIONS ? this.windowCost / WINDOW_MS : undefined;
  }

  private trim(now: number): void {
    while (this.completions.length > 0 && this.completions[0]!.at <= now - WINDOW_MS) this.windowCost -= this.completions.shift()!.cost;
  }
}
