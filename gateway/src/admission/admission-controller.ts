/**
 * @module admission/admission-controller
 * Admission control for the work routes (/caption, /classify): a bounded amount of work in
 * service and a bounded, deadline-aware wait for the rest.
 *
 * - Work is weighted in cost units: a caption costs its beam count (every decoder step carries
 *   that many rows: beam-8 costs about eight greedy captions), a classification one.
 * - At most {@link AdaptiveLimit.limit} units are in service; the limit adapts to the latencies
 *   the work sees and to the model server's refusals (adaptive-limit.ts).
 * - The rest waits, first come first served within its route, the two routes sharing service
 *   fairly (each turn goes to the route that has been served the fewest units).
 * - A request that cannot finish within its deadline is refused at once: its expected wait (the
 *   units queued ahead of it over the rate at which units leave service, Little's law over the
 *   work in service and each kind's average service time) plus its own expected service time
 *   must fit before its deadline. A waiter that can no longer finish is refused when that
 *   becomes certain, not left to time out; one whose client leaves is dropped.
 * - Refusals are 503 `GW_ERR_OVERLOADED` with `Retry-After` from the queue: how long the work
 *   queued now takes to enter service.
 *
 * Hand-written: the npm queues (p-queue, p-limit, bottleneck) bound concurrency but know
 * nothing of costs, deadlines, fair shares or adaptive limits, which are what this is.
 */
import { abortReason, GatewayError } from '../errors/index.js';
import { AdaptiveLimit, type AdaptiveLimitOptions } from './adaptive-limit.js';
import { ServiceEstimates } from './service-estimates.js';

/** The routes that share the service fairly. */
export const WORK_CLASSES = ['caption', 'classify'] as const;
export type WorkClass = (typeof WORK_CLASSES)[number];

export interface AdmissionRequest {
  readonly workClass: WorkClass;
  /** Requests of one kind have similar service times, e.g. `caption:beams=8`. */
  readonly kind: string;
  /** Cost units, at least 1. */
  readonly cost: number;
  /** Absolute deadline, ms since epoch. */
  readonly deadline: number;
  /** Aborted when the client leaves: a waiting request is dropped and rejects with the reason. */
  readonly signal?: AbortSignal;
}

/**
 * How admitted work ended, for the adaptive limit: `overloaded` when the model server refused
 * for a full queue; `deadline` when it missed its deadline, which counts as overload only when
 * its budget was ample for its kind (a client asking for 1 ms must not shrink everyone's limit).
 */
export type Outcome = 'ok' | 'failed' | 'overloaded' | 'deadline';

export interface Admission {
  /** Call exactly once when the work is done; frees its units for the next in line. */
  release(outcome: Outcome): void;
}

export type RefusalReason = 'deadline' | 'queue_full' | 'expired';

export interface AdmissionOptions extends AdaptiveLimitOptions {
  /** Requests allowed to wait at once; more are refused whatever their deadline. */
  readonly maxQueued: number;
  /** Told of every decision (for metrics); must not throw. */
  readonly onDecision?: (workClass: WorkClass, decision: 'admitted' | RefusalReason) => void;
  /** ms since epoch; tests pass their own to time service without waiting. */
  readonly clock?: () => number;
}

export interface AdmissionSnapshot {
  readonly queued: number;
  readonly queuedCost: number;
  readonly inServiceCost: number;
  readonly limit: number;
}

interface Waiter {
  readonly request: AdmissionRequest;
  readonly resolve: (admission: Admission) => void;
  readonly reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
  unlisten: () => void;
}

interface InService {
  readonly request: AdmissionRequest;
  readonly startedMs: number;
}

/** Admission allows for waits this much longer than expected (see admit). */
const WAIT_MARGIN = 1.5;

export class AdmissionController {
  private readonly limiter: AdaptiveLimit;
  private readonly estimates = new ServiceEstimates();
  private readonly queues = new Map<WorkClass, Waiter[]>(WORK_CLASSES.map((c) => [c, []]));
  /** Units each route has been given; the next turn goes to the waiting route with the fewest. */
  private readonly served = new Map<WorkClass, number>(WORK_CLASSES.map((c) => [c, 0]));
  private readonly inService = new Set<InService>();
  private inServiceCost = 0;
  private queuedCost = 0;
  private queued = 0;

  private readonly now: () => number;

  constructor(private readonly options: AdmissionOptions) {
    this.limiter = new AdaptiveLimit(options);
    this.now = options.clock ?? Date.now;
  }

  /**
   * Resolves once `request` may start, or rejects: 503 `GW_ERR_OVERLOADED` (with Retry-After)
   * when it cannot finish within its deadline or the queue is full, the signal's reason when
   * its client left while it waited.
   */
  admit(request: AdmissionRequest): Promise<Admission> {
    if (request.signal?.aborted) return Promise.reject(abortReason(request.signal));
    if (this.queued === 0 && this.fits(request)) return Promise.resolve(this.start(request, this.now()));
    const refusal = this.refusal(request);
    if (refusal) return Promise.reject(this.refuse(request, refusal.reason, refusal.why));
    const serviceMs = this.estimates.serviceMs(request.kind) ?? 0;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { request, resolve, reject, timer: undefined, unlisten: () => {} };
      const queue = this.queues.get(request.workClass)!;
      // A route that was idle gets no credit for it: it resumes level with the busiest share.
      if (queue.length === 0) this.served.set(request.workClass, Math.max(this.served.get(request.workClass)!, this.minServedOfWaiting()));
      queue.push(waiter);
      this.queued++;
      this.queuedCost += request.cost;
      // Once too little time is left to be served, waiting longer only wastes the client's time.
      waiter.timer = setTimeout(() => {
        if (this.remove(waiter)) reject(this.refuse(request, 'expired', 'it could no longer finish within its deadline'));
      }, Math.max(0, request.deadline - serviceMs - this.now()));
      const signal = request.signal;
      if (signal) {
        const onAbort = () => {
          if (this.remove(waiter)) reject(abortReason(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.unlisten = () => signal.removeEventListener('abort', onAbort);
      }
    });
  }

  /**
   * The refusal `request` would get if it asked now, without queueing it: lets a route refuse
   * before reading an upload it would refuse anyway (at 10x load most uploads are refused, and
   * reading them was most of the cost of refusing).
   */
  check(request: Omit<AdmissionRequest, 'signal'>): GatewayError | undefined {
    if (this.queued === 0 && this.fits(request)) return undefined;
    const refusal = this.refusal(request);
    return refusal ? this.refuse(request, refusal.reason, refusal.why) : undefined;
  }

  /** Why `request`, arriving now behind the queue, cannot be admitted; undefined if it can wait. */
  private refusal(request: Omit<AdmissionRequest, 'signal'>): { reason: RefusalReason; why: string } | undefined {
    if (this.queued >= this.options.maxQueued) return { reason: 'queue_full', why: `${this.queued} requests are already waiting` };
    const now = this.now();
    const waitMs = this.expectedWaitMs(request.cost);
    const serviceMs = this.estimates.serviceMs(request.kind) ?? 0;
    // Waits are estimates from the last second; the margin keeps a request admitted on a
    // slightly optimistic one from being refused later, after waiting, which is the slow refusal
    // this exists to avoid.
    if (now + WAIT_MARGIN * waitMs + serviceMs <= request.deadline) return undefined;
    return {
      reason: 'deadline',
      why: `expected to wait ${Math.round(waitMs)} ms and run ${Math.round(serviceMs)} ms, past its deadline in ${Math.max(0, request.deadline - now)} ms`,
    };
  }

  /** Seconds until the work waiting now will have entered service (at least 1). */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.expectedWaitMs(0) / 1000));
  }

  snapshot(): AdmissionSnapshot {
    return { queued: this.queued, queuedCost: this.queuedCost, inServiceCost: this.inServiceCost, limit: this.limiter.limit };
  }

  /** Work too big for the limit still runs, alone, rather than never. */
  private fits(request: Pick<AdmissionRequest, 'cost'>): boolean {
    return this.inServiceCost === 0 || this.inServiceCost + request.cost <= this.limiter.limit;
  }

  private start(request: AdmissionRequest, now: number): Admission {
    const entry: InService = { request, startedMs: now };
    this.inService.add(entry);
    this.inServiceCost += request.cost;
    this.served.set(request.workClass, this.served.get(request.workClass)! + request.cost);
    this.options.onDecision?.(request.workClass, 'admitted');
    let released = false;
    return {
      release: (outcome) => {
        if (released) return;
        released = true;
        this.inService.delete(entry);
        const now = this.now();
        if (outcome === 'ok') {
          this.limiter.sample(request.kind, now - entry.startedMs, this.inServiceCost);
          this.estimates.record(request.kind, request.cost, now - entry.startedMs, now);
        }
        else if (outcome === 'overloaded' || (outcome === 'deadline' && this.ampleBudget(request, entry.startedMs))) this.limiter.overloaded();
        this.inServiceCost -= request.cost;
        this.pump();
      },
    };
  }

  /** Whether `request`, started at `startedMs`, had at least twice its kind's service time. */
  private ampleBudget(request: AdmissionRequest, startedMs: number): boolean {
    const serviceMs = this.estimates.serviceMs(request.kind);
    return serviceMs !== undefined && request.deadline - startedMs >= 2 * serviceMs;
  }

  /** Starts waiters, fair share first, while they fit. */
  private pump(): void {
    while (this.queued > 0) {
      const queue = this.nextQueue();
      const waiter = queue[0]!;
      if (!this.fits(waiter.request)) return;
      this.remove(waiter);
      waiter.resolve(this.start(waiter.request, this.now()));
    }
  }

  /** The non-empty queue of the route served the fewest units. */
  private nextQueue(): Waiter[] {
    let best: Waiter[] | undefined;
    let bestServed = Infinity;
    for (const [workClass, queue] of this.queues) {
      const served = this.served.get(workClass)!;
      if (queue.length > 0 && served < bestServed) {
        best = queue;
        bestServed = served;
      }
    }
    return best!;
  }

  private minServedOfWaiting(): number {
    let min = Infinity;
    for (const [workClass, queue] of this.queues) if (queue.length > 0) min = Math.min(min, this.served.get(workClass)!);
    return Number.isFinite(min) ? min : 0;
  }

  private remove(waiter: Waiter): boolean {
    const queue = this.queues.get(waiter.request.workClass)!;
    const i = queue.indexOf(waiter);
    if (i < 0) return false;
    queue.splice(i, 1);
    this.queued--;
    this.queuedCost -= waiter.request.cost;
    clearTimeout(waiter.timer);
    waiter.unlisten();
    return true;
  }

  /**
   * Expected ms until `cost` more units behind everything queued can enter service: the units
   * that must leave service first, over the rate they leave at (measured over the last second;
   * before there is enough to measure, Little's law over the work in service and each kind's
   * recent service time). 0 while there is room and no queue.
   */
  private expectedWaitMs(cost: number): number {
    const mustLeave = this.inServiceCost + this.queuedCost + cost - this.limiter.limit;
    if (mustLeave <= 0) return 0;
    const now = this.now();
    let unitsPerMs = this.estimates.drainUnitsPerMs(now) ?? 0;
    if (unitsPerMs === 0) {
      for (const { request, startedMs } of this.inService) {
        // A kind not yet timed counts as taking what it has taken so far (at least a millisecond).
        unitsPerMs += request.cost / (this.estimates.serviceMs(request.kind) ?? Math.max(1, now - startedMs));
      }
    }
    return unitsPerMs > 0 ? mustLeave / unitsPerMs : 0;
  }

  private refuse(request: Pick<AdmissionRequest, 'workClass'>, reason: RefusalReason, why: string): GatewayError {
    this.options.onDecision?.(request.workClass, reason);
    return new GatewayError('GW_ERR_OVERLOADED', `the service is at capacity: this ${request.workClass} request was refused (${why})`, this.retryAfterSeconds());
  }
}
