/**
 * @module inference/build-response
 * Builds the ModelInferResponse: every output in `raw_output_contents` (never typed contents,
 * as Triton does), the request id echoed, the concrete model version named.
 */
import type { ModelInferResponse } from '../../../proto/gen/grpc_service.js';
import type { ServedModel } from '../models/served-model.js';
import type { Tensor } from '../tensors/tensor.js';
import { classify } from './classification.js';
import type { RequestedOutput } from './parse-request.js';

export function buildInferResponse(
  model: ServedModel,
  id: string,
  requested: readonly RequestedOutput[],
  results: ReadonlyMap<string, Tensor>,
): ModelInferResponse {
  const batching = model.config.maxBatchSize > 0;
  const response: ModelInferResponse = {
    modelName: model.name,
    modelVersion: String(model.version),
    id,
    parameters: {},
    outputs: [],
    rawOutputContents: [],
  };
  for (const r of requested) {
    let t = results.get(r.name)!;
    if (r.classification > 0) t = classify(r.name, t, r.classification, batching, model.labels.get(r.name));
    response.outputs.push({ name: r.name, datatype: t.datatype, shape: t.shape.map(BigInt), parameters: {}, contents: undefined });
    response.rawOutputContents.push(t.raw);
  }
  return response;
}
