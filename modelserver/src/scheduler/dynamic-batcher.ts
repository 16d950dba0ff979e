/**
 * @module scheduler/dynamic-batcher
 * Triton's dynamic batcher (kserve-v2-grpc.md §4.6): requests join priority queues in arrival
 * order; when an instance is free, the largest formable preferred batch (or a full
 * max_batch_size batch) is sent at once, otherwise the batch waits until its oldest request has
 * waited max_queue_delay_microseconds. Only requests whose inputs agree in every non-batch
 * dimension share a batch, and a differing request closes the pending batch. Queue policies
 * bound each level's size and how long a request may wait.
 */
import {
  type ModelDynamicBatching,
  type ModelQueuePolicy,
  ModelQueuePolicy_TimeoutAction,
} from '../../../proto/gen/model_config.js';
import type { ModelInstance } from '../backend/model-instance.js';
import { unavailable } from '../errors.js';
import type { Tensor } from '../tensors/tensor.js';
import type { BatchContext, QueuedJob } from './execute-batch.js';
import { InstancePool } from './instance-pool.js';
import type { InferenceJob, Scheduler } from './types.js';

interface QueuePolicy {
  readonly delayOnTimeout: boolean;
  readonly defaultTimeoutUs: number;
  readonly allowTimeoutOverride: boolean;
  readonly maxQueueSize: number;
}

interface Entry extends QueuedJob {
  readonly level: number;
  /** hrtime after which the request has timed out in the queue; 0n = never. */
  readonly deadlineNs: bigint;
}

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
  private readonly maxQueueDelayNs: bigint;
  private readonly defaultLevel: number;
  private readonly policies: QueuePolicy[];
  /** levels[0] is priority 1, the highest; each level is FIFO. */
  private readonly levels: Entry[][];
  /** Per level, requests that timed out under a DELAY policy: served after that level's others. */
  private readonly delayed: Entry[][];
  private readonly pool: InstancePool;
  private timer: NodeJS.Timeout | undefined;
  private timerAtNs = 0n;
  private draining = false;
  /** preserve_ordering: responses are released in arrival order, whichever instance ran them. */
  private readonly preserveOrdering: boolean;
  private nextSequence = 0;
  private nextRelease = 0;
  private readonly finished = new Map<number, () => void>();

  constructor(instances: readonly ModelInstance[], maxBatchSize: number, config: ModelDynamicBatching, ctx: BatchContext) {
    this.maxBatchSize = Math.max(1, maxBatchSize);
    this.preferred = new Set(config.preferredBatchSize.length ? config.preferredBatchSize : [this.maxBatchSize]);
    this.maxQueueDelayNs = config.maxQueueDelayMicroseconds * 1000n;
    const levelCount = Math.max(1, Number(config.priorityLevels));
    this.defaultLevel = Math.min(levelCount, Math.max(1, Number(config.defaultPriorityLevel) || levelCount));
    this.policies = Array.from({ length: levelCount }, (_, i) =>
      policyOf(config.priorityQueuePolicy.get(BigInt(i + 1)) ?? config.defaultQueuePolicy),
    );
    this.levels = Array.from({ length: levelCount }, () => []);
    this.preserveOrdering = config.preserveOrdering;
    this.delayed = Array.from({ length: levelCount }, () => []);
    this.pool = new InstancePool(instances, ctx, () => this.pump());
  }

  infer(job: InferenceJob): Promise<ReadonlyMap<string, Tensor>> {
    if (this.draining) return Promise.reject(unavailable('Server is shutting down'));
    // Like Triton's SetPriority: 0 or a level above priority_levels means the default level.
    const level = job.priority > 0 && job.priority <= this.levels.length ? job.priority : this.defaultLevel;
    const policy = this.policies[level - 1]!;
    const queue = this.levels[level - 1]!;
    if (policy.maxQueueSize > 0 && queue.length + this.delayed[level - 1]!.length >= policy.maxQueueSize) {
      return Promise.reject(unavailable('Exceeds maximum queue size'));
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
      queue.push({
        job,
        level,
        enqueuedNs: now,
        deadlineNs: timeoutUs > 0 ? now + BigInt(timeoutUs) * 1000n : 0n,
        resolve,
        reject,
      });
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
    return this.pool.whenIdle(() => this.queuedCount() === 0);
  }

  private queuedCount(): number {
    return this.levels.reduce((n, q, i) => n + q.length + this.delayed[i]!.length, 0);
  }

  /** Queued requests in service order: by priority level, then arrival; a level's DELAYed ones after its others. */
  private *inServiceOrder(): Generator<Entry> {
    for (let i = 0; i < this.levels.length; i++) {
      yield* this.levels[i]!;
      yield* this.delayed[i]!;
    }
  }

  private expire(now: bigint): void {
    this.levels.forEach((queue, i) => {
      const policy = this.policies[i]!;
      for (let j = 0; j < queue.length; ) {
        const e = queue[j]!;
        if (e.deadlineNs === 0n || e.deadlineNs > now) {
          j++;
          continue;
        }
        queue.splice(j, 1);
        if (policy.delayOnTimeout) this.delayed[i]!.push(e);
        else e.reject(unavailable('Request timeout expired'));
      }
    });
  }

  private remove(batch: readonly Entry[]): void {
    const sent = new Set(batch);
    for (const q of [...this.levels, ...this.delayed]) {
      for (let j = q.length - 1; j >= 0; j--) if (sent.has(q[j]!)) q.splice(j, 1);
    }
  }

  /**
   * Forms the next batch from the head of the queue. Returns the batch to send now, or the
   * hrtime at which the pending batch's delay runs out.
   */
  private nextBatch(now: bigint): Entry[] | bigint | undefined {
    const batch: Entry[] = [];
    let size = 0;
    let preferredLength = 0;
    let closed = false;
    for (const e of this.inServiceOrder()) {
      if (batch.length > 0 && (!sameNonBatchShape(batch[0]!.job, e.job) || size + e.job.batchSize > this.maxBatchSize)) {
        closed = true;
        break;
      }
      batch.push(e);
      size += e.job.batchSize;
      if (this.preferred.has(size)) preferredLength = batch.length;
      if (size >= this.maxBatchSize) {
        closed = true;
        break;
      }
    }
    if (batch.length === 0) return undefined;
    if (preferredLength > 0) return batch.slice(0, preferredLength);
    if (closed) return batch;
    const oldest = batch.reduce((t, e) => (e.enqueuedNs < t ? e.enqueuedNs : t), batch[0]!.enqueuedNs);
    const sendAt = oldest + this.maxQueueDelayNs;
    return now >= sendAt ? batch : sendAt;
  }

  private pump(): void {
    const now = process.hrtime.bigint();
    this.expire(now);
    let wakeAt = 0n;
    while (this.pool.hasIdle) {
      const next = this.nextBatch(now);
      if (next === undefined) break;
      if (typeof next === 'bigint') {
        wakeAt = next;
        break;
      }
      this.remove(next);
      this.pool.run(next);
    }
    // DELAYed requests keep their past deadline but never expire again, so they set no wake-up.
    for (const e of this.levels.flat()) {
      if (e.deadlineNs > 0n && (wakeAt === 0n || e.deadlineNs < wakeAt)) wakeAt = e.deadlineNs;
    }
    this.arm(wakeAt, now);
    this.pool.notifyDrainWaiters();
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
