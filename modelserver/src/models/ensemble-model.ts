/**
 * @module models/ensemble-model
 * Runs an ensemble (kserve-v2-grpc.md §4.7): each step starts as soon as all the ensemble
 * tensors its `input_map` names exist, ready steps run in parallel, and each composing model
 * keeps its own scheduler, so ensemble traffic batches with direct traffic. A failing step
 * fails the request with the step named.
 */
import type { ModelConfig, ModelEnsembling_Step } from '../../../proto/gen/model_config.js';
import { InferenceServerError, internal } from '../errors.js';
import type { InferenceJob } from '../scheduler/types.js';
import { ModelStats } from '../stats/model-stats.js';
import type { Tensor } from '../tensors/tensor.js';
import { recordingOutcome, type ServedModel } from './served-model.js';

/** Finds the ready composing model for a step; throws the request-path error otherwise. */
export type ResolveModel = (name: string, version: number) => ServedModel;

function stepLabel(step: ModelEnsembling_Step, index: number): string {
  return `step ${index} ('${step.modelName}')`;
}

async function runEnsemble(config: ModelConfig, resolve: ResolveModel, job: InferenceJob): Promise<ReadonlyMap<string, Tensor>> {
  const steps = config.ensembleScheduling!.step;
  const tensors = new Map<string, Tensor>(job.inputs);
  const started = new Set<number>();

  const runStep = async (index: number): Promise<void> => {
    const step = steps[index]!;
    try {
      const model = resolve(step.modelName, Number(step.modelVersion));
      const inputs = new Map<string, Tensor>();
      for (const [modelInput, ensembleTensor] of Object.entries(step.inputMap)) inputs.set(modelInput, tensors.get(ensembleTensor)!);
      const outputs = await model.infer({ ...job, inputs, outputNames: Object.keys(step.outputMap) });
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

  await Promise.all(readySteps().map(runStep));
  const result = new Map<string, Tensor>();
  for (const name of job.outputNames) {
    const t = tensors.get(name);
    if (!t) throw internal(`ensemble '${config.name}' produced no tensor '${name}'`);
    result.set(name, t);
  }
  return result;
}

/** An ensemble version; its steps resolve composing models at request time. */
export function createEnsembleModel(
  config: ModelConfig,
  version: number,
  labels: ReadonlyMap<string, readonly string[]>,
  resolve: ResolveModel,
): ServedModel {
  const stats = new ModelStats(config.name, String(version));
  const run = recordingOutcome(stats, async (job) => {
    const outputs = await runEnsemble(config, resolve, job);
    stats.recordEnsembleInference(config.maxBatchSize > 0 ? job.batchSize : 1);
    return outputs;
  });
  return { name: config.name, version, config, labels, stats, infer: run, unload: async () => {} };
}
