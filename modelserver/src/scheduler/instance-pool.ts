/**
 * @module scheduler/instance-pool
 * Idle-instance bookkeeping and draining shared by the schedulers: a batch is only formed
 * when an instance is free to run it, as in Triton, so requests keep accumulating meanwhile.
 */
import type { ModelInstance } from '../backend/model-instance.js';
import { type BatchContext, executeBatch, type QueuedJob } from './execute-batch.js';

export class InstancePool {
  private readonly idle: ModelInstance[];
  private running = 0;
  private drainWaiters: Array<() => void> = [];

  constructor(
    instances: readonly ModelInstance[],
    private readonly ctx: BatchContext,
    /** Called whenever an instance becomes free, so the owner can form the next batch. */
    private readonly onIdle: () => void,
  ) {
    this.idle = [...instances];
  }

  get hasIdle(): boolean {
    return this.idle.length > 0;
  }

  /** Runs `batch` on a free instance; the caller checked `hasIdle`. */
  run(batch: readonly QueuedJob[]): void {
    const instance = this.idle.pop()!;
    this.running++;
    void executeBatch(instance, batch, this.ctx).finally(() => {
      this.running--;
      this.idle.push(instance);
      this.onIdle();
    });
  }

  /** Resolves once nothing runs and `isQueueEmpty()` holds; checked after every batch. */
  whenIdle(isQueueEmpty: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.running === 0 && isQueueEmpty()) resolve();
        else this.drainWaiters.push(check);
      };
      check();
    });
  }

  /** Re-checks drain waiters; the owner calls this after each state change. */
  notifyDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}
