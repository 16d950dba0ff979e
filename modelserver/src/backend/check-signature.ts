/**
 * @module backend/check-signature
 * Checks a config's inputs and outputs against the ONNX model's own, so a wrong name, type or
 * rank fails the load with a clear reason instead of failing every request later.
 */
import type { ModelConfig } from '../../../proto/gen/model_config.js';
import { datatypeFromConfig } from '../tensors/datatype.js';
import type { SessionSignature } from './worker-protocol.js';

type Entry = { name: string; dataType: number; dims: readonly bigint[]; reshape?: { shape: readonly bigint[] } | undefined };

function check(
  kind: 'input' | 'output',
  entries: readonly Entry[],
  model: SessionSignature['inputs'],
  batching: boolean,
  modelName: string,
): void {
  for (const e of entries) {
    const m = model.find((x) => x.name === e.name);
    if (!m) {
      const names = model.map((x) => x.name).join(', ');
      throw new Error(`model '${modelName}': ${kind} '${e.name}' is not in the ONNX model (it has: ${names})`);
    }
    const declared = datatypeFromConfig(e.dataType);
    if (m.datatype !== undefined && declared !== m.datatype) {
      throw new Error(
        `model '${modelName}': ${kind} '${e.name}' is ${declared ?? 'INVALID'} in config but ${m.datatype} in the ONNX model`,
      );
    }
    const dims = e.reshape ? e.reshape.shape : e.dims;
    const rank = dims.length + (batching ? 1 : 0);
    if (m.shape.length !== rank) {
      throw new Error(
        `model '${modelName}': ${kind} '${e.name}' has rank ${rank} in config ` +
          `(${batching ? 'batch dim + ' : ''}dims [${dims.join(',')}]) but ${m.shape.length} in the ONNX model`,
      );
    }
  }
}

/** Throws when the config names a tensor the model lacks or declares another type or rank. */
export function checkSignature(config: ModelConfig, signature: SessionSignature): void {
  const batching = config.maxBatchSize > 0;
  check('input', config.input, signature.inputs, batching, config.name);
  check('output', config.output, signature.outputs, batching, config.name);
}
