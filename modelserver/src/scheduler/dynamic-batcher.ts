/**
 * @module scheduler/dynamic-batcher
 * Triton's dynamic batcher (kserve-v2-grpc.md §4.6; core src/dynamic_batch_scheduler.cc,
 * GetDynamicBatch): requests join priority queues in arrival order and, when an instance is
 * free, a batch is formed from the head of the queue. While the oldest request in it has waited
 * less than max_queue_delay_microseconds, the batch stops at the largest preferred size it
 * reaches (or, reaching none, before it would pass the largest preferred size); once that delay
 * has run out, everything pending goes, up to max_batch_size. Only requests whose inputs agree
 * in every non-batch dimension share a batch, and a differing request closes the batch. Queue
 * policies bound each level's size and how long a request may wait.
 *
 * Triton may also form a batch ahead of a busy instance and keep growing it while it waits
 * ("prefetching", only with no queue policy limit and one priority level), with sizes that
 * depend on thread timing; this server forms a batch only when an instance is free, as Triton
 * does whenever prefetching is off (test/batching-triton.test.ts compares the two).
 *
 * Work is proportional to the requests handled, not to the queue's length: queues are linked
 * lists, timeouts sit in a heap, and the batch being formed is kept between passes (Triton's
 * pending-batch cursor), so an arrival behind a busy instance costs O(log n) at most.
 *
 * A cancelled request (its job's `signal` aborted) is dropped and answered CANCELLED when batch
 * forming reaches it, as Triton's PolicyQueue::ApplyPolicy does; until an instance is free it
 * stays queued and keeps its place against max_queue_size, as in Triton. A request cancelled
 * after the pending batch took it in is looked at again only if that batch is formed again, and
 * Triton forms it again only when its cursor is invalid (core scheduler_utils.cc
 * PriorityQueue::IsCursorValid): always where no member of the pending batch has a queue timeout
 * (the closest timeout is 0), so the cancelled member is dropped; otherwise not before the
 * closest member timeout has passed (or an arrival ahead of the batch, an expiry or a sent batch
 * invalidates it), so the cancelled member runs with its batch. Re-forming the batch gives the
 * same batch unless a member was cancelled, so it is re-formed only then: O(1) per
 * cancellation, plus at most one batch formed again.
 */
import {
  type ModelDynamicBatching,
  type ModelQueuePolicy,
  ModelQueuePolicy_TimeoutAction,
} from '../../../proto/gen/model_config.js';
import type { ModelInstance } from '../backend/model-instance.js';
import { cancelled, refused, unavailable } from '../errors.js';
import type { Tensor } from '../tensors/tensor.js';
import type { BatchContext, QueuedJob } from './execute-batch.js';
import { InstancePool } from './instance-pool.js';
import { LinkedQueue, type QueueLinks } from './linked-queue.js';
import { MinHeap } from './min-heap.js';
import type { InferenceJob, Scheduler } from './types.js';

interface QueuePolicy {
  readonly delayOnTimeout: boolean;
  readonly defaultTimeoutUs: number;
  readonly allowTimeoutOverride: boolean;
  readonly maxQueueSize: number;
}

/** A queued request's timeout, in the heap; `entry` is cleared when the request leaves its queue. */
interface Timeout {
  readonly deadlineNs: bigint;
  entry: Entry | undefined;
}

interface Entry extends QueuedJob, QueueLinks<Entry> {
  /** 0-based priority level (0 = priority 1, the highest). */
  readonly level: number;
  /** Index of the list in service order that holds it (see `lists`), -1 once it has left. */
  at: number;
  timeout: Timeout | undefined;
  /** Its listener on `job.signal`, removed once it leaves the batcher. */
  onAbort: (() => void) | undefined;
  /** The `generation` of the pending batch that took it in (-1: none yet). */
  pendingGeneration: number;
}

/** The batch being formed from the head of the queue, kept between passes like Triton's cursor. */
interface PendingBatch {
  first: Entry | undefined;
  /** The last entry taken in; the next one to look at follows it in service order. */
  last: Entry | undefined;
  count: number;
  rows: number;
  oldestNs: bigint;
  /** How many entries to send while the delay runs (a preferred size, or what fits under the largest one); 0 = none yet. */
  bestCount: number;
  /** The next entry cannot join (it would pass max_batch_size, or its shapes differ): the batch is complete. */
  closed: boolean;
  /**
   * The closest queue timeout among the entries taken in (0n: none has one), Triton's
   * pending_batch_closest_timeout_ns_: until it passes, the batch is kept as it is.
   */
  closestTimeoutNs: bigint;
  /** An entry taken in has been cancelled since: the batch is formed again once the cursor is invalid. */
  memberCancelled: boolean;
}

const emptyBatch = (): PendingBatch => ({
  first: undefined,
  last: undefined,
  count: 0,
  rows: 0,
  oldestNs: 0n,
  bestCount: 0,
  closed: false,
  closestTimeoutNs: 0n,
  memberCancelled: false,
});

const policyOf = (p: ModelQueuePolicy | undefined): QueuePolicy => ({
  delayOnTimeout: p?.timeoutAction === ModelQueuePolicy_TimeoutAction.DELAY,
  defaultTimeoutUs: Number(p?.defaultTimeoutMicroseconds ?? 0n),
  allowTimeoutOverride: p?.allowTimeoutOverride ?? false,
  maxQueueSize: p?.maxQueueSize ?? 0,
});

function sameNonBatchShape(a: InferenceJob, b: InferenceJob): boolean {
  if (a.inputs.size !== b.inputs.size) return false;
  for (const [name, ta] of a.inputs) {
    const tb = b.inputs.get(name);
    if (!tb || ta.shape.length !== tb.shape.length) return false;
    for (let i = 1; i < ta.shape.length; i++) if (ta.shape[i] !== tb.shape[i]) return false;
  }
  return true;
}

export class DynamicBatcher implements Scheduler {
  private readonly maxBatchSize: number;
  private readonly preferred: ReadonlySet<number>;
  private readonly maxPreferred: number;
  private readonly maxQueueDelayNs: bigint;
  private readonly defaultLevel: number;
  private readonly policies: QueuePolicy[];
  /**
   * The queues in service order: lists[2i] holds level i's requests in arrival order,
   * lists[2i + 1] its requests that timed out under a DELAY policy, served after its others.
   */
  private readonly lists: LinkedQueue<Entry>[];
  private queued = 0;
  private readonly timeouts = new MinHeap<Timeout>((a, b) => a.deadlineNs < b.deadlineNs);
  /** Timeouts in the heap whose request is still waiting in its level's queue. */
  private liveTimeouts = 0;
  private pending = emptyBatch();
  /** Counts the pending batches formed, so an entry can tell whether the current one holds it. */
  private generation = 0;
  private readonly pool: InstancePool;
  private timer: NodeJS.Timeout | undefined;
  private timerAtNs = 0n;
  private draining = false;
  /** preserve_ordering: responses are released in arrival order, whichever instance ran them. */
  private readonly preserveOrdering: boolean;
  private nextSequence = 0;
  private nextRelease = 0;
  private readonly finished = new Map<number, () => void>();
  private visits = 0;

  constructor(instances: readonly ModelInstance[], maxBatchSize: number, config: ModelDynamicBatching, ctx: BatchContext) {
    this.maxBatchSize = Math.max(1, maxBatchSize);
    // Normalisation fills in [max_batch_size] as Triton does; this keeps a raw config working too.
    this.preferred = new Set(config.preferredBatchSize.length ? config.preferredBatchSize : [this.maxBatchSize]);
    this.maxPreferred = Math.max(...this.preferred);
    this.maxQueueDelayNs = config.maxQueueDelayMicroseconds * 1000n;
    const levelCount = Math.max(1, Number(config.priorityLevels));
    this.defaultLevel = Math.min(levelCount, Math.max(1, Number(config.defaultPriorityLevel) || levelCount));
    this.policies = Array.from({ length: levelCount }, (_, i) =>
      policyOf(config.priorityQueuePolicy.get(BigInt(i + 1)) ?? config.defaultQueuePolicy),
    );
    this.lists = Array.from({ length: 2 * levelCount }, () => new LinkedQueue<Entry>());
    this.preserveOrdering = config.preserveOrdering;
    this.pool = new InstancePool(instances, ctx, () => this.pump());
  }

  /**
   * Queued entries this batcher has looked at, taken into batches or expired since it started:
   * a measure of its scheduling work, for tests that check it grows with the requests handled.
   */
  get entryVisits(): number {
    return this.visits;
  }

  infer(job: InferenceJob): Promise<ReadonlyMap<string, Tensor>> {
    if (this.draining) return Promise.reject(refused('Server is shutting down'));
    // Like Triton's SetPriority: 0 or a level above priority_levels means the default level.
    const level = (job.priority > 0 && job.priority <= this.policies.length ? job.priority : this.defaultLevel) - 1;
    const policy = this.policies[level]!;
    if (policy.maxQueueSize > 0 && this.lists[2 * level]!.size + this.lists[2 * level + 1]!.size >= policy.maxQueueSize) {
      return Promise.reject(refused('Exceeds maximum queue size'));
    }
    // A request may only lower the queue timeout, and only where the policy allows it; as in
    // Triton's PolicyQueue::Enqueue, a default of 0 (no timeout) cannot be lowered.
    let timeoutUs = policy.defaultTimeoutUs;
    if (policy.allowTimeoutOverride && job.timeoutUs > 0 && job.timeoutUs < timeoutUs) {
      timeoutUs = job.timeoutUs;
    }
    const now = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      if (this.preserveOrdering) {
        const sequence = this.nextSequence++;
        const settle = resolve;
        const fail = reject;
        resolve = (outputs) => this.release(sequence, () => settle(outputs));
        reject = (err) => this.release(sequence, () => fail(err));
      }
      const entry: Entry = {
        job,
        level,
        at: 2 * level,
        enqueuedNs: now,
        timeout: undefined,
        onAbort: undefined,
        pendingGeneration: -1,
        prev: undefined,
        next: undefined,
        resolve,
        reject,
      };
      if (timeoutUs > 0) {
        entry.timeout = { deadlineNs: now + BigInt(timeoutUs) * 1000n, entry };
        this.timeouts.push(entry.timeout);
        this.liveTimeouts++;
      }
      if (job.signal && !job.signal.aborted) {
        // Triton only marks the request cancelled: batch forming drops it when it reaches it. If
        // the pending batch has already taken it in, it is dropped only if that batch is formed
        // again, which decide() does when Triton's cursor would be invalid.
        entry.onAbort = () => {
          if (entry.pendingGeneration === this.generation) this.pending.memberCancelled = true;
        };
        job.signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.lists[entry.at]!.push(entry);
      this.queued++;
      // An arrival ahead of where the pending batch has got to (a higher priority level) changes
      // the head of the queue: form the batch again, as Triton invalidates its cursor.
      if (this.pending.last && entry.at < this.pending.last.at) this.resetPending();
      this.pump();
    });
  }

  /** Settles request `sequence` once every earlier request has been settled. */
  private release(sequence: number, settle: () => void): void {
    this.finished.set(sequence, settle);
    for (let next = this.finished.get(this.nextRelease); next; next = this.finished.get(this.nextRelease)) {
      this.finished.delete(this.nextRelease++);
      next();
    }
  }

  drain(): Promise<void> {
    this.draining = true;
    return this.pool.whenIdle(() => this.queued === 0);
  }

  private pump(): void {
    const now = process.hrtime.bigint();
    this.expire(now);
    let wakeAt = 0n;
    while (this.pool.hasIdle && this.queued > 0) {
      const next = this.decide(now);
      if (typeof next === 'bigint') {
        wakeAt = next;
        break;
      }
      // 0: every request left was cancelled and has been dropped.
      if (next > 0) this.pool.run(this.take(next));
    }
    // DELAYed requests never expire again, so only requests still in their level's queue count.
    const deadline = this.nextDeadline();
    if (deadline > 0n && (wakeAt === 0n || deadline < wakeAt)) wakeAt = deadline;
    this.arm(wakeAt, now);
    this.pool.notifyDrainWaiters();
  }

  /** Rejects, or moves behind their level's other requests (DELAY), requests whose queue timeout has passed. */
  private expire(now: bigint): void {
    let expired = false;
    for (let t = this.timeouts.peek(); t && t.deadlineNs <= now; t = this.timeouts.peek()) {
      this.timeouts.pop();
      const e = t.entry;
      if (!e) continue;
      this.visits++;
      this.leaveQueue(e);
      expired = true;
      if (this.policies[e.level]!.delayOnTimeout) {
        e.at = 2 * e.level + 1;
        this.lists[e.at]!.push(e);
      } else {
        this.queued--;
        this.forget(e);
        e.reject(unavailable('Request timeout expired'));
      }
    }
    if (expired) this.resetPending();
  }

  /** Drops a queued request whose client has gone (Triton: FinishRejectedCancelledRequests). */
  private drop(e: Entry): void {
    this.leaveQueue(e);
    this.forget(e);
    this.queued--;
    e.reject(cancelled());
  }

  /** Stops listening for `e`'s cancellation: it has left the batcher. */
  private forget(e: Entry): void {
    if (e.onAbort) e.job.signal!.removeEventListener('abort', e.onAbort);
    e.onAbort = undefined;
  }

  private resetPending(): void {
    this.pending = emptyBatch();
    this.generation++;
  }

  /** Takes `e` out of its list and out of the timeout heap's live count. */
  private leaveQueue(e: Entry): void {
    this.lists[e.at]!.remove(e);
    e.at = -1;
    if (e.timeout?.entry) {
      e.timeout.entry = undefined;
      this.liveTimeouts--;
    }
  }

  /** The earliest timeout of a request still waiting, or 0n. */
  private nextDeadline(): bigint {
    // Timeouts of requests already sent stay in the heap until they surface; rebuild it once
    // they outnumber the live ones, so a long timeout under heavy traffic cannot grow it unbounded.
    if (this.timeouts.size > 2 * this.liveTimeouts + 64) this.timeouts.retain((t) => t.entry !== undefined);
    for (let t = this.timeouts.peek(); t; t = this.timeouts.peek()) {
      if (t.entry) return t.deadlineNs;
      this.timeouts.pop();
    }
    return 0n;
  }

  /** The entry after `e` in service order (the first queued one when `e` is undefined). */
  private after(e: Entry | undefined): Entry | undefined {
    if (e?.next) return e.next;
    for (let i = e ? e.at + 1 : 0; i < this.lists.length; i++) {
      const head = this.lists[i]!.head;
      if (head) return head;
    }
    return undefined;
  }

  /**
   * Grows the pending batch with the requests that arrived since the last pass, then decides as
   * Triton's GetDynamicBatch does: how many entries to send now, or the hrtime at which the
   * pending batch's delay runs out.
   */
  private decide(now: bigint): number | bigint {
    // Triton's GetDynamicBatch starts again from the head of the queue when its cursor is invalid:
    // always while no member has a queue timeout, else once the closest one has passed. (Arrivals
    // ahead of the batch, expiries and sent batches have already reset it, as they reset
    // Triton's cursor.) Formed again, the batch differs only if a member was cancelled.
    if (this.pending.memberCancelled && !(now < this.pending.closestTimeoutNs)) this.resetPending();
    const p = this.pending;
    while (!p.closed) {
      const e = this.after(p.last);
      if (!e) break;
      this.visits++;
      if (e.job.signal?.aborted) {
        this.drop(e);
        continue;
      }
      const rows = Math.max(1, e.job.batchSize);
      if (p.first) {
        // Passing the largest preferred size with none reached: what is pending so far is the
        // batch to send while the delay runs.
        if (p.rows + rows > this.maxPreferred && p.bestCount === 0) p.bestCount = p.count;
        if (p.rows + rows > this.maxBatchSize || !sameNonBatchShape(p.first.job, e.job)) {
          p.closed = true;
          break;
        }
      } else {
        p.first = e;
        p.oldestNs = e.enqueuedNs;
      }
      p.count++;
      p.rows += rows;
      p.last = e;
      e.pendingGeneration = this.generation;
      // Triton's AdvanceCursor: only a request still in its level's queue has a timeout (TimeoutAt).
      const deadline = e.timeout?.entry ? e.timeout.deadlineNs : 0n;
      if (deadline > 0n && (p.closestTimeoutNs === 0n || deadline < p.closestTimeoutNs)) p.closestTimeoutNs = deadline;
      if (e.enqueuedNs < p.oldestNs) p.oldestNs = e.enqueuedNs;
      if (this.preferred.has(p.rows)) p.bestCount = p.count;
    }
    const delayed = this.maxQueueDelayNs > 0n && now - p.oldestNs >= this.maxQueueDelayNs;
    if (p.bestCount > 0 && !delayed) return p.bestCount;
    if (p.closed || p.rows >= this.maxPreferred || delayed || this.maxQueueDelayNs === 0n) return p.count;
    return p.oldestNs + this.maxQueueDelayNs;
  }

  /** Removes the first `count` entries in service order (the pending batch's head) as a batch. */
  private take(count: number): Entry[] {
    const batch: Entry[] = [];
    for (let i = 0; batch.length < count && i < this.lists.length; i++) {
      const list = this.lists[i]!;
      while (batch.length < count && list.head) {
        const e = list.head;
        this.leaveQueue(e);
        this.forget(e);
        batch.push(e);
        this.visits++;
      }
    }
    this.queued -= batch.length;
    this.resetPending();
    return batch;
  }

  private arm(atNs: bigint, now: bigint): void {
    // Nothing left to wait for: drop a timer armed for requests that have since been sent, or
    // it would keep the process alive until their (possibly long) queue timeout.
    if (atNs === 0n) return this.disarm();
    if (this.timer && this.timerAtNs <= atNs) return;
    this.disarm();
    this.timerAtNs = atNs;
    // Node's timers have 1 ms granularity, so a sub-millisecond queue delay waits up to 1 ms.
    // Polling the event loop instead would honour it exactly but burn the main thread that
    // decodes the very requests being batched (measured: about 40% less throughput).
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Number(atNs - now) / 1e6);
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
