/**
 * @module config/validate-ensemble
 * Triton's ensemble checks (§4.7): data flow within one config, agreement with composing models.
 */
import { dataTypeToJSON, type DataType, type ModelConfig } from '../../../proto/gen/model_config.js';
import { ModelConfigError } from './model-config-error.js';
import { ENSEMBLE_PLATFORM } from './platforms.js';
import type { FailFn } from './validate-io.js';

interface FlowNode {
  readonly name: string;
  produced: boolean;
  ready: boolean;
  readonly prev: FlowNode[];
  readonly next: FlowNode[];
}

/**
 * Checks an ensemble's own config (core ValidateEnsembleSchedulingConfig): platform "ensemble";
 * no instance_group, optimization or model_warmup; at least one step, each naming a model and
 * mapping inputs and outputs; every ensemble input used, every ensemble output written from the
 * ensemble inputs, every ensemble tensor produced at most once and every intermediate consumed.
 */
export function checkEnsembleScheduling(config: ModelConfig, fail: FailFn): void {
  const name = config.name;
  if (config.platform !== ENSEMBLE_PLATFORM) {
    throw fail(`ensemble scheduling cannot be set for model '${name}' whose platform is not ${ENSEMBLE_PLATFORM}`);
  }
  if (config.instanceGroup.length !== 0) {
    throw fail(`instance group should not be specified for ensemble '${name}'`);
  }
  if (config.optimization !== undefined) {
    throw fail(`optimization should not be specified for ensemble '${name}'`);
  }
  if (config.modelWarmup.length !== 0) {
    throw fail(`model_warmup can not be specified for ensemble '${name}'`);
  }
  if ((config.ensembleScheduling?.step.length ?? 0) === 0) {
    throw fail(`must specify 'step' for ensemble '${name}'`);
  }
  const graph = buildFlowGraph(config, fail);
  propagateReadiness(config, graph, fail);
  const outputs = new Set<string>();
  for (const output of config.output) {
    const node = graph.get(output.name);
    if (node === undefined) throw fail(`ensemble output '${output.name}' for ensemble '${name}' is not used`);
    if (!node.ready) throw fail(notWrittenReason(output.name, name, node));
    outputs.add(output.name);
  }
  for (const node of graph.values()) {
    // Ensemble outputs were checked above and may feed nothing.
    if (outputs.has(node.name)) continue;
    if (!node.ready || node.next.length === 0) {
      throw fail(`ensemble tensor '${node.name}' is unused in ensemble '${name}'`);
    }
  }
}

// Nodes are ensemble tensors; an edge runs from each input of a step to each output of that step.
function buildFlowGraph(config: ModelConfig, fail: FailFn): Map<string, FlowNode> {
  const graph = new Map<string, FlowNode>();
  const nodeFor = (tensor: string): FlowNode => {
    let node = graph.get(tensor);
    if (node === undefined) {
      node = { name: tensor, produced: false, ready: false, prev: [], next: [] };
      graph.set(tensor, node);
    }
    return node;
  };
  const steps = config.ensembleScheduling?.step ?? [];
  steps.forEach((step, index) => {
    const where = ` in step ${index} of ensemble '${config.name}'`;
    if (step.modelName === '') throw fail(`must specify 'model_name'${where}`);
    const inputEntries = Object.entries(step.inputMap);
    const outputEntries = Object.entries(step.outputMap);
    if (inputEntries.length === 0) throw fail(`must specify 'input_map'${where}`);
    if (outputEntries.length === 0) throw fail(`must specify 'output_map'${where}`);
    const produced = outputEntries.map(([, tensor]) => {
      const node = nodeFor(tensor);
      if (node.produced) {
        throw fail(
          `ensemble tensor '${tensor}' can appear in an output map only once ` +
            `for ensemble '${config.name}' step ${index}`,
        );
      }
      node.produced = true;
      return node;
    });
    for (const [, tensor] of inputEntries) {
      const source = nodeFor(tensor);
      for (const target of produced) {
        target.prev.push(source);
        source.next.push(target);
      }
    }
  });
  return graph;
}

// A tensor is ready when every input of the step producing it is ready, starting from the
// ensemble inputs: exactly what Triton's scheduler needs to be able to run the steps.
function propagateReadiness(config: ModelConfig, graph: Map<string, FlowNode>, fail: FailFn): void {
  const queue: FlowNode[] = [];
  for (const input of config.input) {
    const node = graph.get(input.name);
    if (node === undefined) {
      throw fail(`ensemble input '${input.name}' for ensemble '${config.name}' is not used`);
    }
    node.ready = true;
    queue.push(node);
  }
  for (let i = 0; i < queue.length; i++) {
    for (const next of queue[i]!.next) {
      if (next.ready || !next.prev.every((p) => p.ready)) continue;
      next.ready = true;
      queue.push(next);
    }
  }
}

// Walks back to the first tensor that never became ready, so the message names the real gap.
function notWrittenReason(output: string, ensemble: string, node: FlowNode): string {
  let reason = `output '${output}' for ensemble '${ensemble}' is not written`;
  let source = node;
  const seen = new Set<string>();
  let prev: FlowNode[] = node.prev;
  while (prev.length > 0) {
    const culprit = prev.find((p) => !p.ready && !seen.has(p.name));
    if (culprit === undefined) break;
    seen.add(culprit.name);
    source = culprit;
    prev = culprit.prev;
  }
  if (source !== node) reason += `: at least one of its depending tensors, '${source.name}', is not connected`;
  return reason;
}

interface TensorFacts {
  readonly model: string;
  readonly dataType: DataType;
  readonly dims: readonly bigint[];
  /** dims with the batch dim (-1) in front when the model batches. */
  readonly fullDims: readonly bigint[];
}

/**
 * Checks an ensemble against the configs of the models it composes (core ValidateEnsembleConfig):
 * every composing model exists; a composing model that batches allows at least the ensemble's
 * max_batch_size; each step maps only existing inputs and outputs and every non-optional input;
 * and tensors that are connected agree in data type and shape (-1 matches anything, and a
 * non-batching model's [-1, ...dims] matches a batching model's dims). Does nothing for a config
 * without ensemble_scheduling. Pass normalised composing configs, as Triton uses completed ones.
 *
 * @param getConfig returns the composing model's config by name, undefined when there is none
 * @param file path reported in errors
 * @throws ModelConfigError naming the first disagreement
 * @example
 * validateEnsembleAgainst(ensembleConfig, (name) => loaded.get(name)?.config, 'models/pipeline/config.pbtxt');
 */
export function validateEnsembleAgainst(
  config: ModelConfig,
  getConfig: (name: string) => ModelConfig | undefined,
  file = 'config.pbtxt',
): void {
  const steps = config.ensembleScheduling?.step;
  if (steps === undefined) return;
  const fail: FailFn = (reason) => new ModelConfigError(file, 0, 0, reason);
  const ensemble = config.name;
  const missing = [...new Set(steps.map((s) => s.modelName))].filter((m) => getConfig(m) === undefined);
  if (missing.length > 0) {
    throw fail(`ensemble '${ensemble}' contains models that are not available: ${missing.join(', ')}`);
  }
  const tensors = new Map<string, TensorFacts>();
  const ensembleBatches = config.maxBatchSize > 0;
  for (const io of [...config.input, ...config.output]) {
    // The ensemble side of a connection is what its steps see, i.e. after any reshape.
    const dims = io.reshape !== undefined ? io.reshape.shape : io.dims;
    tensors.set(io.name, facts(ensemble, ensembleBatches, io.dataType, dims));
  }
  for (const step of steps) {
    const composing = getConfig(step.modelName)!;
    if (composing.maxBatchSize !== 0 && composing.maxBatchSize < config.maxBatchSize) {
      throw fail(
        `ensemble ${ensemble} allows maximum batch size ${config.maxBatchSize}, but it contains model ` +
          `${step.modelName} which only allows maximum batch size to be ${composing.maxBatchSize}`,
      );
    }
    checkStepMapping(ensemble, step.modelName, step.inputMap, step.outputMap, composing, tensors, fail);
  }
}

function checkStepMapping(
  ensemble: string,
  model: string,
  inputMap: Record<string, string>,
  outputMap: Record<string, string>,
  composing: ModelConfig,
  tensors: Map<string, TensorFacts>,
  fail: FailFn,
): void {
  const batches = composing.maxBatchSize > 0;
  const prefix = `in ensemble ${ensemble}, `;
  const inputs = new Map(composing.input.map((i) => [i.name, i]));
  for (const [modelInput, tensor] of Object.entries(inputMap)) {
    if (!inputs.has(modelInput)) {
      throw fail(`${prefix}ensemble tensor ${tensor} is mapping to non-existing input ${modelInput} in model ${model}`);
    }
  }
  for (const input of composing.input) {
    const tensor = inputMap[input.name];
    if (tensor === undefined) {
      // An optional input may be left out of the ensemble.
      if (input.optional) continue;
      throw fail(`${prefix}input ${input.name} in model ${model} is not mapped to any ensemble tensors`);
    }
    connect(tensor, facts(model, batches, input.dataType, input.dims), tensors, prefix, fail);
  }
  const outputs = new Map(composing.output.map((o) => [o.name, o]));
  for (const [modelOutput, tensor] of Object.entries(outputMap)) {
    const output = outputs.get(modelOutput);
    if (output === undefined) {
      throw fail(
        `${prefix}ensemble tensor ${tensor} is mapped from non-existing output ${modelOutput} in model ${model}`,
      );
    }
    connect(tensor, facts(model, batches, output.dataType, output.dims), tensors, prefix, fail);
  }
}

function facts(model: string, batches: boolean, dataType: DataType, dims: readonly bigint[]): TensorFacts {
  return { model, dataType, dims, fullDims: batches ? [-1n, ...dims] : dims };
}

function connect(
  tensor: string,
  side: TensorFacts,
  tensors: Map<string, TensorFacts>,
  prefix: string,
  fail: FailFn,
): void {
  const known = tensors.get(tensor);
  if (known === undefined) {
    tensors.set(tensor, side);
    return;
  }
  const where = `${prefix}ensemble tensor ${tensor}: `;
  if (known.dataType !== side.dataType) {
    throw fail(
      `${where}inconsistent data type: ${dataTypeToJSON(known.dataType)} is inferred from model ${known.model} ` +
        `while ${dataTypeToJSON(side.dataType)} is inferred from model ${side.model}`,
    );
  }
  // A shape disagreement may be only the batch dim: a non-batching model's [-1, d...] is the same
  // tensor as a batching model's [d...], so the full shapes are compared as a second chance.
  if (!sameDimsWithWildcard(known.dims, side.dims) && !sameDimsWithWildcard(known.fullDims, side.fullDims)) {
    throw fail(
      `${where}inconsistent shape: ${dimsText(known.fullDims)} is inferred from model ${known.model} ` +
        `while ${dimsText(side.fullDims)} is inferred from model ${side.model}`,
    );
  }
}

function sameDimsWithWildcard(a: readonly bigint[], b: readonly bigint[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i] || d === -1n || b[i] === -1n);
}

function dimsText(dims: readonly bigint[]): string {
  return `[${dims.join(',')}]`;
}
