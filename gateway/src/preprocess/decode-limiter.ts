/**
 * @module preprocess/decode-limiter
 * A bound on the image decodes in flight, with a short wait queue, bounded in length and in
 * expected wait, that refuses at once (503 `GW_ERR_OVERLOADED`) when full, and a Retry-After
 * computed from the queue and the recent decode times.
 *
 * Hand-written rather than p-limit or p-queue: neither refuses when its queue is full (both
 * queue without bound), and the Retry-After needs the decode times this class keeps anyway.
 */
import { GatewayError } from '../errors/index.js';

export interface DecodeLimiterOptions {
  /** Decodes running at once; each holds one libuv pool thread and its decoded pixels. */
  readonly concurrency: number;
  /** Decodes that may wait for a slot; one more is refused with `GW_ERR_OVERLOADED`. 0: none wait. */
  readonly maxQueued: number;
  /**
   * Longest expected wait for a slot, ms (default: unbounded): a decode that would wait longer is
   * refused even while the queue has room. The wait expected for the k-th in line is k times the
   * recent mean decode time over the slots, so small images queue deep and expensive ones do not.
   */
  readonly maxWaitMs?: number;
  /** How many of the latest decode durations the mean behind Retry-After averages (default 32). */
  readonly window?: number;
  /** Clock in milliseconds (default `performance.now`); tests pass their own. */
  readonly now?: () => number;
}

/** What the limiter holds now and has done since it was made, for metrics and tests. */
export interface DecodeLimiterStats {
  readonly concurrency: number;
  readonly maxQueued: number;
  readonly maxWaitMs: number;
  /** Decodes running now. */
  readonly inFlight: number;
  /** Decodes waiting for a slot now. */
  readonly queued: number;
  /** Decodes finished (successfully or not) since start. */
  readonly completed: number;
  /** Decodes refused because the queue was full (in length or expected wait), since start. */
  readonly shed: number;
  /** Mean duration of the latest decodes (up to `window` of them), ms; 0 before the first. */
  readonly meanDecodeMs: number;
  /** The Retry-After a refusal would carry now, seconds. */
  readonly retryAfterSeconds: number;
}

/**
 * Runs decodes at most `concurrency` at a time, first come first served; up to `maxQueued` more
 * wait, and any beyond that are refused at once rather than queued without bound.
 *
 * @example
 * const limiter = new DecodeLimiter({ concurrency: 2, maxQueued: 16 });
 * const rgb = await limiter.run(() => pipeline.toBuffer()); // may throw GW_ERR_OVERLOADED (503)
 */
export class DecodeLimiter {
  readonly #concurrency: number;
  readonly #maxQueued: number;
  readonly #maxWaitMs: number;
  readonly #now: () => number;
  readonly #durations: number[] = [];
  readonly #window: number;
  #next = 0;
  #inFlight = 0;
  // Each entry hands a freed slot to one waiting decode.
  readonly #waiting: Array<() => void> = [];
  #completed = 0;
  #shed = 0;

  constructor(options: DecodeLimiterOptions) {
    const { concurrency, maxQueued, maxWaitMs = Infinity, window = 32 } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError(`maxQueued must be a non-negative integer, got ${maxQueued}`);
    if (!(maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be a non-negative number, got ${maxWaitMs}`);
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer, got ${window}`);
    this.#concurrency = concurrency;
    this.#maxQueued = maxQueued;
    this.#maxWaitMs = maxWaitMs;
    this.#window = window;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Runs `task` once a slot is free and returns what it returns. Throws `GW_ERR_OVERLOADED`
   * (503, with Retry-After) without running it when every slot is taken and the queue is full
   * (`maxQueued` waiting, or a wait expected beyond `maxWaitMs`);
   * rejects with `signal.reason` when `signal` aborts while the task still waits (a running
   * decode cannot be stopped, so it keeps its slot until it ends).
   */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    if (this.#inFlight < this.#concurrency) {
      this.#inFlight++;
    } else if (this.#waiting.length < this.#maxQueued && this.#expectedWaitMs(this.#waiting.length + 1) <= this.#maxWaitMs) {
      await this.#wait(signal);
    } else {
      this.#shed++;
      const seconds = this.retryAfterSeconds();
      throw new GatewayError(
        'GW_ERR_OVERLOADED',
        `Image decoding is at its limit (${this.#inFlight} decoding, ${this.#waiting.length} waiting); retry after ${seconds} s.`,
        seconds,
      );
    }
    const start = this.#now();
    try {
      return await task();
    } finally {
      this.#record(this.#now() - start);
      this.#release();
    }
  }

  /**
   * Whole seconds until the decodes running and waiting now should all be done: their number
   * times the recent mean decode time, spread over the slots, rounded up, at least 1.
   */
  retryAfterSeconds(): number {
    const drainMs = ((this.#inFlight + this.#waiting.length) * this.#meanMs()) / this.#concurrency;
    return Math.max(1, Math.ceil(drainMs / 1000));
  }

  stats(): DecodeLimiterStats {
    return {
      concurrency: this.#concurrency,
      maxQueued: this.#maxQueued,
      maxWaitMs: this.#maxWaitMs,
      inFlight: this.#inFlight,
      queued: this.#waiting.length,
      completed: this.#completed,
      shed: this.#shed,
      meanDecodeMs: this.#meanMs(),
      retryAfterSeconds: this.retryAfterSeconds(),
    };
  }

  // A slot frees every mean/concurrency on average, so the k-th in line waits about k of those.
  #expectedWaitMs(position: number): number {
    return (position * this.#meanMs()) / this.#concurrency;
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = this.#waiting.indexOf(start);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal!.reason);
      };
      const start = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#waiting.push(start);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #release(): void {
    // The slot passes straight to the next waiting decode, so none can jump the queue.
    const next = this.#waiting.shift();
    if (next) next();
    else this.#inFlight--;
  }

  #record(ms: number): void {
    this.#completed++;
    this.#durations[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#window;
  }

  #meanMs(): number {
    if (this.#durations.length === 0) return 0;
    return this.#durations.reduce((sum, ms) => sum + ms, 0) / this.#durations.length;
  }
}
