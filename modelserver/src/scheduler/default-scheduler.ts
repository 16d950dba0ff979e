/**
 * @module scheduler/default-scheduler
 * Triton's default scheduler, used when a model has no `dynamic_batching`: requests run one
 * per execution, in arrival order, on whichever instance is free. A job's `signal` is not looked
 * at: Triton hands these requests straight to its rate limiter, which runs cancelled ones too
 * (core dynamic_batch_scheduler.cc Enqueue, `!dynamic_batching_enabled_`).
 */
import type { ModelInstance } from '../backend/model-instance.js';
import { refused } from '../errors.js';
import type { Tensor } from '../tensors/tensor.js';
import type { BatchContext, QueuedJob } from './execute-batch.js';
import { InstancePool } from './instance-pool.js';
import type { InferenceJob, Scheduler } from './types.js';

export class DefaultScheduler implements Scheduler {
  private readonly queue: QueuedJob[] = [];
  private readonly pool: InstancePool;
  private draining = false;

  constructor(instances: readonly ModelInstance[], ctx: BatchContext) {
    this.pool = new InstancePool(instances, ctx, () => this.pump());
  }

  infer(job: InferenceJob): Promise<ReadonlyMap<string, Tensor>> {
    if (this.draining) return Promise.reject(refused('Server is shutting down'));
    return new Promise((resolve, reject) => {
      this.queue.push({ job, enqueuedNs: process.hrtime.bigint(), resolve, reject });
      this.pump();
    });
  }

  drain(): Promise<void> {
    this.draining = true;
    return this.pool.whenIdle(() => this.queue.length === 0);
  }

  private pump(): void {
    while (this.pool.hasIdle && this.queue.length > 0) this.pool.run([this.queue.shift()!]);
    this.pool.notifyDrainWaiters();
  }
}
