/**
 * @module backend/model-instance
 * The contract between schedulers and backends: an instance executes one batch at a time.
 */
import type { ExecutionTimings } from '../stats/model-stats.js';
import type { Tensor } from '../tensors/tensor.js';

export interface ExecutionResult extends ExecutionTimings {
  readonly outputs: ReadonlyMap<string, Tensor>;
}

export interface ModelInstance {
  /** `<group name>_<index>`, as Triton names instances. */
  readonly name: string;
  /** Runs the model once on already-batched inputs and returns the named outputs. */
  execute(inputs: ReadonlyMap<string, Tensor>, outputNames: readonly string[]): Promise<ExecutionResult>;
  /** Frees the instance; pending executions fail. */
  close(): Promise<void>;
}
