/**
 * @module models/ensemble-model
 * Runs an ensemble (kserve-v2-grpc.md §4.7): each step starts as soon as all the ensemble
 * tensors its `input_map` names exist, ready steps run in parallel, and each composing model
 * keeps its own scheduler, so ensemble traffic batches with direct traffic. A failing step
 * fails the request with the step named.
 *
 * Cancellation as in Triton's EnsembleContext::ScheduleSteps: a step's request is a request of
 * its own, cancelled only when the ensemble request already is as the step starts; steps
 * already queued run on (their models' batchers then drop the later, cancelled steps).
 */
import type { ModelConfig, ModelEnsembling_Step } from '../../../proto/gen/model_config.js';
import { InferenceServerError, internal } from '../errors.js';
import type { InferenceJob } from '../scheduler/types.js';
import { ModelStats } from '../stats/model-stats.js';
import type { Tensor } from '../tensors/tensor.js';
import type { ServedModel } from './served-model.js';

/** Finds the ready composing model for a step; throws the request-path error otherwise. */
export type ResolveModel = (name: string, version: number) => ServedModel;

function stepLabel(step: ModelEnsembling_Step, index: number): string {
  return `step ${index} ('${step.modelName}')`;
}

async function runEnsemble(
  config: ModelConfig,
  resolve: ResolveModel,
  job: InferenceJob,
  onFirstDispatch: () => void,
): Promise<ReadonlyMap<string, Tensor>> {
  const steps = config.ensembleScheduling!.step;
  const tensors = new Map<string, Tensor>(job.inputs);
  const started = new Set<number>();

  const runStep = async (index: number): Promise<void> => {
    const step = steps[index]!;
    try {
      const model = resolve(step.modelName, Number(step.modelVersion));
      const inputs = new Map<string, Tensor>();
      for (const [modelInput, ensembleTensor] of Object.entries(step.inputMap)) inputs.set(modelInput, tensors.get(ensembleTensor)!);
      const signal = job.signal?.aborted ? job.signal : undefined;
      const outputs = await model.infer({ ...job, inputs, outputNames: Object.keys(step.outputMap), signal });
      for (const [modelOutput, ensembleTensor] of Object.entries(step.outputMap)) {
        const t = outputs.get(modelOutput);
        if (!t) throw internal(`produced no output '${modelOutput}'`);
        tensors.set(ensembleTensor, t);
      }
    } catch (err) {
      const e = err instanceof InferenceServerError ? err : internal((err as Error).message);
      throw new InferenceServerError(e.code, `in ensemble '${config.name}', ${stepLabel(step, index)} failed: ${e.message}`);
    }
    await Promise.all(readySteps().map(runStep));
  };

  // Claims every not-yet-started step whose inputs all exist.
  const readySteps = (): number[] => {
    const ready: number[] = [];
    steps.forEach((step, i) => {
      if (!started.has(i) && Object.values(step.inputMap).every((t) => tensors.has(t))) {
        started.add(i);
        ready.push(i);
      }
    });
    return ready;
  };

  const first = readySteps();
  onFirstDispatch();
  await Promise.all(first.map(runStep));
  const result = new Map<string, Tensor>();
  for (const name of job.outputNames) {
    const t = tensors.get(name);
    if (!t) throw internal(`ensemble '${config.name}' produced no tensor '${name}'`);
    result.set(name, t);
  }
  return result;
}

/**
 * An ensemble version; its steps resolve composing models at request time. Its statistics count
 * like Triton's (a success, a queue wait, an execution per request). Durations: the queue wait is
 * from the request's arrival to its first step's dispatch; compute_infer is from there to the
 * last step's outputs. Triton sums its composing models' per-request compute_input, compute_infer
 * and compute_output instead; the schedulers here do not report timings per request, so
 * compute_input and compute_output stay 0 (the composing models' own statistics have them).
 */
export function createEnsembleModel(
  config: ModelConfig,
  version: number,
  labels: ReadonlyMap<string, readonly string[]>,
  resolve: ResolveModel,
): ServedModel {
  const stats = new ModelStats(config.name, String(version));
  const infer = async (job: InferenceJob): Promise<ReadonlyMap<string, Tensor>> => {
    const start = process.hrtime.bigint();
    let dispatched = start;
    try {
      const outputs = await runEnsemble(config, resolve, job, () => {
        dispatched = process.hrtime.bigint();
      });
      const end = process.hrtime.bigint();
      const timings = { computeInputNs: 0n, computeInferNs: end - dispatched, computeOutputNs: 0n };
      stats.recordEnsembleSuccess(config.maxBatchSize > 0 ? job.batchSize : 1, end - start, dispatched - start, timings);
      return outputs;
    } catch (err) {
      // Triton counts a failed ensemble request twice: once when it answers the error
      // (InferenceRequest::RespondIfError in EnsembleContext::FinishEnsemble) and once when the
      // request's tracker finishes (RequestTracker::DecrementCounter with a failed status).
      const ns = process.hrtime.bigint() - start;
      stats.recordFail(ns);
      stats.recordFail(ns);
      throw err;
    }
  };
  return { name: config.name, version, config, labels, stats, infer, unload: async () => {} };
}
