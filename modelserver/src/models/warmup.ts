/**
 * @module models/warmup
 * Runs a model's `model_warmup` samples on every instance before the model reports ready
 * (kserve-v2-grpc.md §4.8). A failing sample fails the load.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig, ModelWarmup } from '../../../proto/gen/model_config.js';
import type { ModelInstance } from '../backend/model-instance.js';
import { datatypeFromConfig, elementByteSize } from '../tensors/datatype.js';
import { elementCount, expectedByteSize, joinBytesElements, type Tensor } from '../tensors/tensor.js';

async function sampleInput(modelDir: string, batching: boolean, batchSize: number, input: ModelWarmup['inputs'][string]): Promise<Tensor> {
  const datatype = datatypeFromConfig(input.dataType);
  if (!datatype) throw new Error('warmup input has data_type TYPE_INVALID');
  const inner = input.dims.map(Number);
  const shape = batching ? [batchSize, ...inner] : inner;
  const count = elementCount(shape);
  if (input.inputDataFile) {
    // The file holds one batch item; repeat it for every row of the sample.
    const item = new Uint8Array(await readFile(join(modelDir, 'warmup', input.inputDataFile)));
    const rows = batching ? batchSize : 1;
    const raw = new Uint8Array(item.byteLength * rows);
    for (let r = 0; r < rows; r++) raw.set(item, r * item.byteLength);
    const size = expectedByteSize(datatype, shape);
    if (size !== undefined && raw.byteLength !== size) {
      throw new Error(`warmup file '${input.inputDataFile}' holds ${item.byteLength} bytes, expected ${size / rows}`);
    }
    return { datatype, shape, raw };
  }
  if (datatype === 'BYTES') {
    const make = () => (input.randomData ? new TextEncoder().encode(randomBytes(4).toString('hex')) : new Uint8Array(0));
    return { datatype, shape, raw: joinBytesElements(Array.from({ length: count }, make)) };
  }
  const bytes = count * elementByteSize(datatype);
  // Random bits can make NaNs in float types; Triton's random_data is for exercising kernels,
  // so uniform random bytes are fine for integers and small-range values are used for floats.
  if (input.randomData && (datatype === 'FP32' || datatype === 'FP64')) {
    const values = Array.from({ length: count }, () => Math.random());
    const raw = datatype === 'FP32' ? new Float32Array(values) : new Float64Array(values);
    return { datatype, shape, raw: new Uint8Array(raw.buffer) };
  }
  if (input.randomData && datatype === 'BOOL') return { datatype, shape, raw: Uint8Array.from(randomBytes(bytes), (b) => b & 1) };
  return { datatype, shape, raw: input.randomData ? new Uint8Array(randomBytes(bytes)) : new Uint8Array(bytes) };
}

/** Runs every warmup sample `count` times (0 = once) on each instance. */
export async function warmUp(config: ModelConfig, modelDir: string, instances: readonly ModelInstance[]): Promise<void> {
  const batching = config.maxBatchSize > 0;
  const outputs = config.output.map((o) => o.name);
  for (const sample of config.modelWarmup) {
    const inputs = new Map<string, Tensor>();
    for (const [name, input] of Object.entries(sample.inputs)) {
      inputs.set(name, await sampleInput(modelDir, batching, Math.max(1, sample.batchSize), input));
    }
    const times = Math.max(1, sample.count);
    for (const instance of instances) {
      for (let i = 0; i < times; i++) {
        try {
          await instance.execute(inputs, outputs);
        } catch (err) {
          throw new Error(`warmup sample '${sample.name}' failed on ${instance.name}: ${(err as Error).message}`);
        }
      }
    }
  }
}
