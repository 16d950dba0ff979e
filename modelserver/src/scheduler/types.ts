/**
 * @module scheduler/types
 * What the request path hands a model's scheduler, and what it gets back.
 */
import type { Tensor } from '../tensors/tensor.js';

/** A request's `sequence_id`, `sequence_start` and `sequence_end` (id 0 or "": none). */
export interface SequenceFlags {
  readonly id: bigint | string;
  readonly start: boolean;
  readonly end: boolean;
}

export interface InferenceJob {
  /** Validated inputs, with the batch dimension when the model batches. */
  readonly inputs: ReadonlyMap<string, Tensor>;
  /** Rows along dimension 0 (1 for a model without batching). */
  readonly batchSize: number;
  /** Outputs this request wants from the backend. */
  readonly outputNames: readonly string[];
  /** Request `priority` parameter: 0 = the model's default level, 1 = highest. */
  readonly priority: number;
  /** Request `timeout` parameter in microseconds, 0 = none. */
  readonly timeoutUs: number;
  /**
   * Aborted once the client no longer wants the answer (its call was cancelled or its deadline
   * passed), like Triton's TRITONSERVER_InferenceRequestCancel. The dynamic batcher then drops
   * the request if it is still queued; a request already executing runs to the end.
   */
  readonly signal?: AbortSignal;
  /** The request's sequence parameters; only the sequence batcher reads them. */
  readonly sequence?: SequenceFlags;
}

export interface Scheduler {
  /** Queues the job and resolves with its outputs once a batch containing it has executed. */
  infer(job: InferenceJob): Promise<ReadonlyMap<string, Tensor>>;
  /** Stops accepting jobs and resolves when queued and running ones have finished. */
  drain(): Promise<void>;
}
