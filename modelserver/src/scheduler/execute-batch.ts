/**
 * @module scheduler/execute-batch
 * Runs one batch on one instance: concatenates the requests' inputs along the batch dimension,
 * executes, splits every output back per request, and records statistics.
 */
import type { ModelConfig } from '../../../proto/gen/model_config.js';
import type { ModelInstance } from '../backend/model-instance.js';
import { internal } from '../errors.js';
import type { ModelStats } from '../stats/model-stats.js';
import { concatBatch, splitBatch, type Tensor } from '../tensors/tensor.js';
import type { InferenceJob } from './types.js';

/** A job waiting in a scheduler, with its promise's settle functions. */
export interface QueuedJob {
  readonly job: InferenceJob;
  readonly enqueuedNs: bigint;
  readonly resolve: (outputs: ReadonlyMap<string, Tensor>) => void;
  readonly reject: (err: Error) => void;
  /** A filler that only pads the batch (the sequence batcher's null request): in no request statistics. */
  readonly filler?: boolean;
}

type Reshapes = ReadonlyMap<string, { dims: readonly number[]; backend: readonly number[] }>;

/** Tensors whose config declares `reshape`: the request uses `dims`, the backend `reshape`. */
export function reshapesOf(entries: ModelConfig['input'] | ModelConfig['output']): Reshapes {
  const map = new Map<string, { dims: number[]; backend: number[] }>();
  for (const e of entries) {
    if (e.reshape) map.set(e.name, { dims: e.dims.map(Number), backend: e.reshape.shape.map(Number) });
  }
  return map;
}

function withShape(t: Tensor, batching: boolean, inner: readonly number[]): Tensor {
  return { ...t, shape: batching ? [t.shape[0]!, ...inner] : [...inner] };
}

export interface BatchContext {
  readonly batching: boolean;
  readonly inputReshapes: Reshapes;
  readonly outputReshapes: Reshapes;
  readonly stats: ModelStats;
}

/** Executes `batch` on `instance`; every job in it is settled when this resolves. */
export async function executeBatch(instance: ModelInstance, batch: readonly QueuedJob[], ctx: BatchContext): Promise<void> {
  const now = process.hrtime.bigint();
  for (const q of batch) if (!q.filler) ctx.stats.recordQueue(now - q.enqueuedNs);
  try {
    const inputs = new Map<string, Tensor>();
    for (const name of batch[0]!.job.inputs.keys()) {
      const parts = batch.map((q) => q.job.inputs.get(name)!);
      let t = ctx.batching ? concatBatch(parts) : parts[0]!;
      const r = ctx.inputReshapes.get(name);
      if (r) t = withShape(t, ctx.batching, r.backend);
      inputs.set(name, t);
    }
    const wanted = [...new Set(batch.flatMap((q) => q.job.outputNames))];
    const result = await instance.execute(inputs, wanted);
    const rows = batch.map((q) => q.job.batchSize);
    const perJob = batch.map(() => new Map<string, Tensor>());
    for (const name of wanted) {
      let out = result.outputs.get(name);
      if (!out) throw internal(`model produced no output '${name}'`);
      const r = ctx.outputReshapes.get(name);
      if (r) out = withShape(out, ctx.batching, r.dims);
      if (ctx.batching && out.shape[0] !== rows.reduce((a, b) => a + b, 0)) {
        throw internal(`output '${name}' has batch dimension ${out.shape[0]}, expected ${rows.reduce((a, b) => a + b, 0)}`);
      }
      const parts = ctx.batching ? splitBatch(out, rows) : [out];
      parts.forEach((p, i) => perJob[i]!.set(name, p));
    }
    const batchSize = ctx.batching ? rows.reduce((a, b) => a + b, 0) : 1;
    const real = batch.filter((q) => !q.filler);
    const inferences = ctx.batching ? real.reduce((n, q) => n + q.job.batchSize, 0) : 1;
    ctx.stats.recordExecution(batchSize, real.length, result, inferences);
    batch.forEach((q, i) => {
      const mine = new Map<string, Tensor>();
      for (const name of q.job.outputNames) mine.set(name, perJob[i]!.get(name)!);
      q.resolve(mine);
    });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    for (const q of batch) q.reject(e.name === 'InferenceServerError' ? e : internal(e.message));
  }
}
