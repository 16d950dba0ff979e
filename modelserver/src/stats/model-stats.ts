/**
 * @module stats/model-stats
 * Per model-version statistics with Triton's semantics (kserve-v2-grpc.md §1.4): request
 * success/fail and queue durations per request, compute durations per request and per batch
 * size, inference_count in batch elements, execution_count in model executions.
 */
import type {
  InferBatchStatistics,
  ModelStatistics,
  StatisticDuration,
} from '../../../proto/gen/grpc_service.js';

/** Durations of one model execution, in nanoseconds. */
export interface ExecutionTimings {
  readonly computeInputNs: bigint;
  readonly computeInferNs: bigint;
  readonly computeOutputNs: bigint;
}

interface Duration {
  count: bigint;
  ns: bigint;
}

const zero = (): Duration => ({ count: 0n, ns: 0n });

function add(d: Duration, ns: bigint, count = 1n): void {
  d.count += count;
  d.ns += ns;
}

export class ModelStats {
  private readonly success = zero();
  private readonly fail = zero();
  private readonly queue = zero();
  private readonly computeInput = zero();
  private readonly computeInfer = zero();
  private readonly computeOutput = zero();
  private readonly batches = new Map<number, { input: Duration; infer: Duration; output: Duration }>();
  private inferenceCount = 0n;
  private executionCount = 0n;
  private lastInferenceMs = 0n;

  constructor(
    readonly name: string,
    readonly version: string,
  ) {}

  /** A request finished successfully after `durationNs` end to end. */
  recordSuccess(durationNs: bigint): void {
    add(this.success, durationNs);
    this.lastInferenceMs = BigInt(Date.now());
  }

  /** A request failed after `durationNs` (validation, queue rejection or backend error). */
  recordFail(durationNs: bigint): void {
    add(this.fail, durationNs);
    this.lastInferenceMs = BigInt(Date.now());
  }

  /** How long one request waited in the scheduler queue. */
  recordQueue(ns: bigint): void {
    add(this.queue, ns);
  }

  /**
   * One execution of `batchSize` elements built from `requestCount` requests. Each request is
   * charged the execution's compute durations, as Triton does for requests sharing a batch.
   * `inferences` (default `batchSize`) is what inference_count gains: the sequence batcher's null
   * requests fill a batch (batch_stats counts them) but are no inferences (tritonserver 2.51).
   */
  recordExecution(batchSize: number, requestCount: number, t: ExecutionTimings, inferences = batchSize): void {
    const n = BigInt(requestCount);
    add(this.computeInput, t.computeInputNs * n, n);
    add(this.computeInfer, t.computeInferNs * n, n);
    add(this.computeOutput, t.computeOutputNs * n, n);
    let b = this.batches.get(batchSize);
    if (!b) {
      b = { input: zero(), infer: zero(), output: zero() };
      this.batches.set(batchSize, b);
    }
    add(b.input, t.computeInputNs);
    add(b.infer, t.computeInferNs);
    add(b.output, t.computeOutputNs);
    this.inferenceCount += BigInt(inferences);
    this.executionCount += 1n;
  }

  /**
   * A successful ensemble request, counted as Triton's ensemble scheduler counts it (core
   * ensemble_scheduler.cc RequestTracker): one success, one queue wait, one compute entry and
   * one execution of `batchSize` elements per request, in batch_stats too. `t` is what the
   * ensemble spent computing; see ensemble-model for what it measures.
   */
  recordEnsembleSuccess(batchSize: number, durationNs: bigint, queueNs: bigint, t: ExecutionTimings): void {
    this.recordSuccess(durationNs);
    this.recordQueue(queueNs);
    this.recordExecution(batchSize, 1, t);
  }

  /** The ModelStatistics message for this model version. */
  snapshot(): ModelStatistics {
    const d = (x: Duration): StatisticDuration => ({ count: x.count, ns: x.ns });
    const batchStats: InferBatchStatistics[] = [...this.batches.entries()]
      .sort(([a], [b]) => a - b)
      .map(([size, b]) => ({
        batchSize: BigInt(size),
        computeInput: d(b.input),
        computeInfer: d(b.infer),
        computeOutput: d(b.output),
      }));
    return {
      name: this.name,
      version: this.version,
      lastInference: this.lastInferenceMs,
      inferenceCount: this.inferenceCount,
      executionCount: this.executionCount,
      inferenceStats: {
        success: d(this.success),
        fail: d(this.fail),
        queue: d(this.queue),
        computeInput: d(this.computeInput),
        computeInfer: d(this.computeInfer),
        computeOutput: d(this.computeOutput),
        cacheHit: d(zero()),
        cacheMiss: d(zero()),
      },
      batchStats,
      memoryUsage: [],
      responseStats: {},
    };
  }
}
