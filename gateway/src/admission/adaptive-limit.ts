/**
 * @module admission/adaptive-limit
 * How much work (in cost units, see admission-controller.ts) may be in service at once, adapted
 * from the latencies the work sees: the gradient method of Netflix's concurrency-limits
 * (Gradient2). A short-window average of each request's service time, relative to the long-run
 * average of requests of its kind, says whether queues are building inside the service: up to
 * `tolerance` times the long run is taken as the batching a fuller model server does, and the
 * limit grows (by about √limit per round of samples); beyond it the limit shrinks in proportion.
 * A model server refusing for a full queue, or admitted work missing its deadline, cuts the
 * limit by a tenth at once.
 *
 * Written here because no maintained npm package offers an adaptive concurrency limit (the
 * ports of concurrency-limits are unmaintained); the arithmetic is a few lines.
 */

export interface AdaptiveLimitOptions {
  /** The limit before any sample (cost units). */
  readonly initial: number;
  readonly min: number;
  readonly max: number;
}

/** Latency up to this many times the long-run average counts as no queueing. */
const TOLERANCE = 1.5;
/** Samples in the long-run average of each kind's service time. */
const LONG_WINDOW = 500;
/** Samples in the short-run average of service time relative to the long run. */
const SHORT_WINDOW = 10;
/** Weight of a new estimate against the current limit. */
const SMOOTHING = 0.2;
/** Multiplicative cut on an overload signal. */
const BACKOFF = 0.9;

export class AdaptiveLimit {
  private value: number;
  /** Per kind: the long-run average service time, ms, and the samples it has seen. */
  private readonly long = new Map<string, { ms: number; n: number }>();
  private shortRatio = 1;

  constructor(private readonly options: AdaptiveLimitOptions) {
    this.value = clamp(options.initial, options.min, options.max);
  }

  /** The current limit, in whole cost units. */
  get limit(): number {
    return Math.floor(this.value);
  }

  /** The long-run average service time of `kind`, ms; undefined before its first sample. */
  serviceMs(kind: string): number | undefined {
    return this.long.get(kind)?.ms;
  }

  /**
   * One request of `kind` served in `ms`, while `inService` cost units (itself included) were in
   * service when it finished.
   */
  sample(kind: string, elapsedMs: number, inService: number): void {
    // Service times under a millisecond are timer noise; they would also make ratios infinite.
    const ms = Math.max(1, elapsedMs);
    const long = this.long.get(kind);
    if (long === undefined) {
      this.long.set(kind, { ms, n: 1 });
      return;
    }
    const ratio = ms / long.ms;
    // A plain mean over the first samples of a kind, then an exponential average over LONG_WINDOW.
    long.n = Math.min(LONG_WINDOW, long.n + 1);
    long.ms += (ms - long.ms) / long.n;
    this.shortRatio += (ratio - this.shortRatio) / SHORT_WINDOW;
    // Work well under the limit says nothing about whether more would fit (Gradient2 holds then).
    if (inService < this.value / 2) return;
    const gradient = clamp(TOLERANCE / this.shortRatio, 0.5, 1);
    const target = this.value * gradient + Math.sqrt(this.value);
    this.value = clamp(this.value * (1 - SMOOTHING) + target * SMOOTHING, this.options.min, this.options.max);
  }

  /** The service said it is full (a model-server queue refused, or admitted work missed its deadline). */
  overloaded(): void {
    this.value = clamp(this.value * BACKOFF, this.options.min, this.options.max);
  }
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
