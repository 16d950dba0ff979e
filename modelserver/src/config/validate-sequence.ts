/**
 * @module config/validate-sequence
 * The load-time checks of `sequence_batching` (triton-sequence-batcher.md §1; core
 * model_config_utils.cc and sequence_batch_scheduler.cc): control inputs, their encodings, and
 * the implicit states with their initial values. Where the reference quotes Triton's message it
 * is used word for word; the others say the same rule in plain words.
 */
import {
  DataType,
  type ModelConfig,
  type ModelSequenceBatching,
  ModelSequenceBatching_Control_Kind as Kind,
} from '../../../proto/gen/model_config.js';
import type { FailFn } from './validate-io.js';

const CORRID_TYPES = new Set([DataType.TYPE_UINT64, DataType.TYPE_INT64, DataType.TYPE_UINT32, DataType.TYPE_INT32, DataType.TYPE_STRING]);
const KIND_NAMES: Record<number, string> = {
  [Kind.CONTROL_SEQUENCE_START]: 'CONTROL_SEQUENCE_START',
  [Kind.CONTROL_SEQUENCE_READY]: 'CONTROL_SEQUENCE_READY',
  [Kind.CONTROL_SEQUENCE_END]: 'CONTROL_SEQUENCE_END',
  [Kind.CONTROL_SEQUENCE_CORRID]: 'CONTROL_SEQUENCE_CORRID',
};

/** Throws the first rule `config.sequence_batching` breaks. */
export function validateSequenceBatching(config: ModelConfig, sequence: ModelSequenceBatching, fail: FailFn): void {
  checkControls(config, sequence, fail);
  checkStates(config, sequence, fail);
  const direct = sequence.direct;
  if (direct && (direct.minimumSlotUtilization < 0 || direct.minimumSlotUtilization > 1)) {
    throw fail(`sequence batching minimum slot utilization must be in range (0.0, 1.0] for ${config.name}`);
  }
}

function checkControls(config: ModelConfig, sequence: ModelSequenceBatching, fail: FailFn): void {
  const kinds = new Set<Kind>();
  const names = new Set<string>();
  for (const input of sequence.controlInput) {
    if (input.name === '') throw fail(`sequence batching control tensor must have a name for ${config.name}`);
    if (names.has(input.name)) throw fail(`sequence batching control tensor '${input.name}' is specified more than once for ${config.name}`);
    names.add(input.name);
    if (config.input.some((i) => i.name === input.name)) {
      throw fail(`sequence batching control tensor '${input.name}' must not also be listed in 'input' for ${config.name}`);
    }
    for (const c of input.control) {
      const kind = KIND_NAMES[c.kind] ?? String(c.kind);
      if (kinds.has(c.kind)) throw fail(`sequence batching specifies multiple ${kind} tensors for ${config.name}`);
      kinds.add(c.kind);
      const encodings = [c.int32FalseTrue, c.fp32FalseTrue, c.boolFalseTrue].filter((v) => v.length > 0);
      if (c.kind === Kind.CONTROL_SEQUENCE_CORRID) {
        if (encodings.length > 0) throw fail(`sequence batching must not specify false/true values for ${kind} for ${config.name}`);
        if (!CORRID_TYPES.has(c.dataType)) {
          throw fail(
            `unexpected data type for control ${kind} for model '${config.name}'. Allowed data types are TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 and TYPE_STRING`,
          );
        }
      } else if (encodings.length !== 1 || encodings[0]!.length !== 2) {
        throw fail(`sequence batching must specify exactly one of int32_false_true, fp32_false_true or bool_false_true, with 2 values, for ${kind} for ${config.name}`);
      }
    }
  }
}

function checkStates(config: ModelConfig, sequence: ModelSequenceBatching, fail: FailFn): void {
  for (const state of sequence.state) {
    for (const name of [state.inputName, state.outputName]) {
      if (name === '') throw fail(`state of model '${config.name}' must have an input_name and an output_name`);
      if (config.input.some((i) => i.name === name)) {
        throw fail(`state '${name}' of model '${config.name}' must not also be listed in 'input'`);
      }
    }
    if (state.initialState.length > 1) {
      throw fail(`initial_state field for state input '${state.inputName}' must contain exactly one or zero element.`);
    }
    const init = state.initialState[0];
    if (!init) continue;
    if (init.name === '') {
      throw fail(`Field 'name' must be set when using initial_state for state input '${state.inputName}'.`);
    }
    if (init.dataType !== state.dataType) {
      throw fail(`the data type of initial state '${init.name}' must match the data type of state input '${state.inputName}'`);
    }
    const fits =
      init.dims.length === state.dims.length && init.dims.every((d, i) => d !== -1n && (state.dims[i] === -1n || state.dims[i] === d));
    if (!fits) {
      throw fail(
        `initial state '${init.name}' of state input '${state.inputName}' has dims [${init.dims.join(',')}], which must have the rank of [${state.dims.join(',')}], no -1, and its fixed dims`,
      );
    }
    if (init.zeroData === undefined && !init.dataFile) {
      throw fail(`initial state '${init.name}' of state input '${state.inputName}' must set zero_data or data_file`);
    }
  }
}
