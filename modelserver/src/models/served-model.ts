/**
 * @module models/served-model
 * One loaded, ready version of a model as the request path sees it, whatever runs it
 * (a scheduler over ONNX instances, or an ensemble of other models).
 */
import type { ModelConfig } from '../../../proto/gen/model_config.js';
import { InferenceServerError } from '../errors.js';
import type { InferenceJob } from '../scheduler/types.js';
import type { ModelStats } from '../stats/model-stats.js';
import type { Tensor } from '../tensors/tensor.js';

export interface ServedModel {
  readonly name: string;
  readonly version: number;
  /** The normalised config, as ModelConfig returns it. */
  readonly config: ModelConfig;
  /** Labels per output with `label_filename`, line i = class i. */
  readonly labels: ReadonlyMap<string, readonly string[]>;
  readonly stats: ModelStats;
  /** Runs a validated job; records success or failure in `stats`. */
  infer(job: InferenceJob): Promise<ReadonlyMap<string, Tensor>>;
  /** Stops accepting work, finishes what is queued, frees the instances. */
  unload(): Promise<void>;
}

/**
 * Wraps a runner so every job's outcome and duration lands in `stats`, except a request the
 * scheduler refused to queue, which Triton does not count.
 */
export function recordingOutcome(
  stats: ModelStats,
  run: (job: InferenceJob) => Promise<ReadonlyMap<string, Tensor>>,
): (job: InferenceJob) => Promise<ReadonlyMap<string, Tensor>> {
  return async (job) => {
    const start = process.hrtime.bigint();
    try {
      const outputs = await run(job);
      stats.recordSuccess(process.hrtime.bigint() - start);
      return outputs;
    } catch (err) {
      if (!(err instanceof InferenceServerError) || err.counted) stats.recordFail(process.hrtime.bigint() - start);
      throw err;
    }
  };
}
