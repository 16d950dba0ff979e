/**
 * @module backend/check-signature
 * Checks a config's inputs and outputs against the ONNX model's own, so a wrong name, type or
 * rank fails the load with a clear reason instead of failing every request later.
 */
import {
  DataType,
  type ModelConfig,
  type ModelSequenceBatching_Control,
  ModelSequenceBatching_Control_Kind,
} from '../../../proto/gen/model_config.js';
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

/**
 * Throws when the config names a tensor the model lacks or declares another type or rank. A
 * sequence model's graph also takes every control input ([B, 1], or [1] without batching) and
 * every state input, and returns every state output, as Triton's onnxruntime backend requires.
 */
export function checkSignature(config: ModelConfig, signature: SessionSignature): void {
  const batching = config.maxBatchSize > 0;
  check('input', config.input, signature.inputs, batching, config.name);
  check('output', config.output, signature.outputs, batching, config.name);
  const sequence = config.sequenceBatching;
  if (!sequence) return;
  const controls: Entry[] = sequence.controlInput.flatMap((c) =>
    c.control.slice(0, 1).map((k) => ({ name: c.name, dataType: controlType(k), dims: [1n] })),
  );
  check('input', controls, signature.inputs, batching, config.name);
  check('input', sequence.state.map((s) => ({ name: s.inputName, dataType: s.dataType, dims: s.dims })), signature.inputs, batching, config.name);
  check('output', sequence.state.map((s) => ({ name: s.outputName, dataType: s.dataType, dims: s.dims })), signature.outputs, batching, config.name);
  const expected = config.input.length + controls.length + sequence.state.length;
  if (signature.inputs.length !== expected) {
    throw new Error(
      `model '${config.name}': the ONNX model has ${signature.inputs.length} inputs, expected ${expected} (config inputs, control inputs and state inputs)`,
    );
  }
}

/** The datatype a control tensor has: its `*_false_true` kind, or CORRID's `data_type`. */
function controlType(c: ModelSequenceBatching_Control): number {
  if (c.kind === ModelSequenceBatching_Control_Kind.CONTROL_SEQUENCE_CORRID) return c.dataType;
  if (c.fp32FalseTrue.length > 0) return DataType.TYPE_FP32;
  if (c.boolFalseTrue.length > 0) return DataType.TYPE_BOOL;
  return DataType.TYPE_INT32;
}
