/**
 * @module scheduler/sequence-tensors
 * The tensors the sequence batcher adds to each request before it runs: the control inputs
 * (START, END, READY, CORRID) and the implicit state inputs, as Triton's core builds them
 * (triton-sequence-batcher.md §3.2 and §4.1; core sequence_batch_scheduler.cc
 * CreateBooleanControlTensors / SetControlTensors, sequence_state.cc).
 *
 * - {@link SequenceTensors.controls}: one row of every configured control for one request;
 * - {@link SequenceTensors.initialStates}: a fresh copy of every state's initial value, as a
 *   START resets it;
 * - {@link SequenceTensors.nextStates}: the state inputs of a sequence's next request, taken from
 *   this request's outputs by configured name (output_name → input_name).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DataType,
  type ModelConfig,
  type ModelSequenceBatching_State,
  ModelSequenceBatching_Control_Kind as Kind,
} from '../../../proto/gen/model_config.js';
import { type Datatype, datatypeFromConfig, elementByteSize } from '../tensors/datatype.js';
import { elementCount, type Tensor } from '../tensors/tensor.js';
import type { SequenceFlags } from './types.js';

/** What one request of a sequence tells its controls. `null` = Direct's empty-slot filler. */
export interface ControlValues {
  readonly start: boolean;
  readonly end: boolean;
  readonly ready: boolean;
  readonly id: SequenceFlags['id'];
}

export const NULL_CONTROLS: ControlValues = { start: false, end: false, ready: false, id: 0n };

/** Where Triton reads an initial state's `data_file` from (core constants.h kInitialStateFolder). */
const INITIAL_STATE_FOLDER = 'initial_state';

interface BooleanControl {
  readonly name: string;
  readonly kind: Kind;
  readonly datatype: Datatype;
  /** The false and the true value, encoded as one element of `datatype`. */
  readonly values: readonly [Uint8Array, Uint8Array];
}

interface CorridControl {
  readonly name: string;
  readonly datatype: Datatype;
}

export class SequenceTensors {
  private readonly batching: boolean;
  private readonly booleans: BooleanControl[] = [];
  private readonly corrid: CorridControl | undefined;
  /** State input name → its output name. */
  readonly stateOutputs: ReadonlyMap<string, string>;

  private constructor(
    config: ModelConfig,
    /** State input name → initial value, with the batch dimension when the model batches. */
    private readonly initial: ReadonlyMap<string, Tensor>,
  ) {
    this.batching = config.maxBatchSize > 0;
    let corrid: CorridControl | undefined;
    for (const input of config.sequenceBatching!.controlInput) {
      for (const c of input.control) {
        if (c.kind === Kind.CONTROL_SEQUENCE_CORRID) {
          corrid = { name: input.name, datatype: datatypeFromConfig(c.dataType) ?? 'UINT64' };
        } else {
          this.booleans.push({ name: input.name, kind: c.kind, ...booleanEncoding(c) });
        }
      }
    }
    this.corrid = corrid;
    this.stateOutputs = new Map(config.sequenceBatching!.state.map((s) => [s.inputName, s.outputName]));
  }

  /** Reads every state's initial value (a `data_file` from the model's initial_state folder). */
  static async load(config: ModelConfig, modelDir: string): Promise<SequenceTensors> {
    const initial = new Map<string, Tensor>();
    for (const state of config.sequenceBatching?.state ?? []) {
      initial.set(state.inputName, await initialState(state, modelDir, config.maxBatchSize > 0));
    }
    return new SequenceTensors(config, initial);
  }

  /** Names of the outputs the backend must return besides the requested ones. */
  get stateOutputNames(): string[] {
    return [...this.stateOutputs.values()];
  }

  /** Every control tensor of one request: [1, 1] when the model batches, [1] otherwise. */
  controls(values: ControlValues): Map<string, Tensor> {
    const shape = this.batching ? [1, 1] : [1];
    const out = new Map<string, Tensor>();
    for (const b of this.booleans) {
      const on = b.kind === Kind.CONTROL_SEQUENCE_START ? values.start : b.kind === Kind.CONTROL_SEQUENCE_END ? values.end : values.ready;
      out.set(b.name, { datatype: b.datatype, shape, raw: b.values[on ? 1 : 0] });
    }
    if (this.corrid) out.set(this.corrid.name, { datatype: this.corrid.datatype, shape, raw: corridBytes(this.corrid.datatype, values.id) });
    return out;
  }

  /** A fresh copy of every initial state (the backend's outputs never alias it). */
  initialStates(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, t] of this.initial) out.set(name, { ...t, raw: t.raw.slice() });
    return out;
  }

  /** States shaped like `like` and zero-filled: what Direct's empty-slot filler runs with. */
  static dummyStates(like: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, t] of like) out.set(name, { ...t, raw: new Uint8Array(t.raw.byteLength) });
    return out;
  }

  /** The initial states themselves, for comparing shapes (never hand these to a backend). */
  get initialShapes(): ReadonlyMap<string, Tensor> {
    return this.initial;
  }

  /**
   * The next request's state inputs, from this request's outputs paired by configured name; a
   * state the backend did not return keeps its value (Triton: no StateUpdate, same input).
   */
  nextStates(outputs: ReadonlyMap<string, Tensor>, previous: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
    const out = new Map(previous);
    for (const [input, output] of this.stateOutputs) {
      const t = outputs.get(output);
      if (t) out.set(input, t);
    }
    return out;
  }
}

function booleanEncoding(c: { int32FalseTrue: number[]; fp32FalseTrue: number[]; boolFalseTrue: boolean[] }) {
  const pair = (datatype: Datatype, write: (view: DataView, v: number) => void, values: readonly number[]) => {
    const enc = values.map((v) => {
      const raw = new Uint8Array(elementByteSize(datatype));
      write(new DataView(raw.buffer), v);
      return raw;
    });
    return { datatype, values: [enc[0]!, enc[1]!] as const };
  };
  if (c.fp32FalseTrue.length === 2) return pair('FP32', (d, v) => d.setFloat32(0, v, true), c.fp32FalseTrue);
  if (c.boolFalseTrue.length === 2) return pair('BOOL', (d, v) => d.setUint8(0, v), c.boolFalseTrue.map(Number));
  return pair('INT32', (d, v) => d.setInt32(0, v, true), c.int32FalseTrue.length === 2 ? c.int32FalseTrue : [0, 1]);
}

/**
 * A correlation id in the CORRID control's type: an integer id is Triton's uint64 (an int64 by
 * two's complement), cut to the control's width; a string id is one BYTES element (4-byte length,
 * then the bytes), and on a numeric control tritonserver 2.51 writes that element's first bytes
 * (conformance: "caption-1" on UINT64 reads 9 | "capt" << 32); an integer on a STRING control
 * goes as its decimal text.
 */
function corridBytes(datatype: Datatype, id: SequenceFlags['id']): Uint8Array {
  const width = elementByteSize(datatype);
  if (datatype === 'BYTES' || typeof id === 'string') {
    const text = new TextEncoder().encode(typeof id === 'string' ? id : BigInt.asUintN(64, id).toString());
    const element = new Uint8Array(4 + text.byteLength);
    new DataView(element.buffer).setUint32(0, text.byteLength, true);
    element.set(text, 4);
    if (datatype === 'BYTES') return element;
    const raw = new Uint8Array(width);
    raw.set(element.subarray(0, width));
    return raw;
  }
  const value = BigInt.asUintN(64, id);
  const raw = new Uint8Array(width);
  const view = new DataView(raw.buffer);
  if (width === 8) view.setBigUint64(0, value, true);
  else view.setUint32(0, Number(BigInt.asUintN(32, value)), true);
  return raw;
}

/**
 * A state's value at START: zeros (`zero_data`), the bytes of `data_file`, or, with no
 * `initial_state`, the config dims with every -1 read as 1 (Triton leaves that buffer
 * uninitialised and the model must look at START; zeros are one such garbage).
 */
async function initialState(state: ModelSequenceBatching_State, modelDir: string, batching: boolean): Promise<Tensor> {
  const datatype = datatypeFromConfig(state.dataType) ?? 'FP32';
  const init = state.initialState[0];
  const dims = (init ? init.dims : state.dims).map((d) => (d === -1n ? 1 : Number(d)));
  const shape = batching ? [1, ...dims] : dims;
  const count = elementCount(shape);
  if (state.dataType === DataType.TYPE_STRING) {
    // Empty strings: a zero length prefix per element.
    const raw = init?.dataFile ? await readFile(join(modelDir, INITIAL_STATE_FOLDER, init.dataFile)) : new Uint8Array(4 * count);
    return { datatype, shape, raw: new Uint8Array(raw) };
  }
  const bytes = count * elementByteSize(datatype);
  if (init?.dataFile) {
    const file = await readFile(join(modelDir, INITIAL_STATE_FOLDER, init.dataFile));
    if (file.byteLength < bytes) {
      throw new Error(`initial state '${init.name}' of state '${state.inputName}': file holds ${file.byteLength} bytes, expected at least ${bytes}`);
    }
    return { datatype, shape, raw: new Uint8Array(file.subarray(0, bytes)) };
  }
  return { datatype, shape, raw: new Uint8Array(bytes) };
}
