/**
 * @module model-tools/check/check-parity
 * Runs each committed ONNX model on the held-out batch its training script saved with PyTorch's
 * outputs (model-tools/parity/*.json) and requires max |ONNX - PyTorch| < 1e-4 on every output.
 * Usage: tsx model-tools/check/check-parity.ts [--repo model_repository] [--parity model-tools/parity]
 *   [--files a.json,b.json] (default: every file in PARITY_FILES)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';

const TOLERANCE = 1e-4;

interface Record_ {
  readonly datatype: 'FP32' | 'INT64';
  readonly shape: number[];
  readonly b64: string;
}

function toTensor(r: Record_): ort.Tensor {
  const bytes = Buffer.from(r.b64, 'base64');
  const own = new Uint8Array(bytes).buffer;
  return r.datatype === 'FP32' ? new ort.Tensor('float32', new Float32Array(own), r.shape) : new ort.Tensor('int64', new BigInt64Array(own), r.shape);
}

/** Largest absolute difference per output between ONNX Runtime and the saved reference. */
export async function parityOf(repository: string, parityFile: string): Promise<{ model: string; maxAbsDiff: Record<string, number> }> {
  const doc = JSON.parse(readFileSync(parityFile, 'utf8')) as { model: string; inputs: Record<string, Record_>; outputs: Record<string, Record_> };
  const session = await ort.InferenceSession.create(join(repository, doc.model, '1', 'model.onnx'));
  const feeds = Object.fromEntries(Object.entries(doc.inputs).map(([k, v]) => [k, toTensor(v)]));
  const out = await session.run(feeds);
  const maxAbsDiff: Record<string, number> = {};
  for (const [name, ref] of Object.entries(doc.outputs)) {
    const expected = toTensor(ref).data as Float32Array;
    const actual = out[name]!.data as Float32Array;
    if (actual.length !== expected.length) throw new Error(`${doc.model}.${name}: ${actual.length} values, expected ${expected.length}`);
    let max = 0;
    for (let i = 0; i < actual.length; i++) max = Math.max(max, Math.abs(actual[i]! - expected[i]!));
    maxAbsDiff[name] = max;
  }
  await session.release();
  return { model: doc.model, maxAbsDiff };
}

export const PARITY_FILES = ['caption_encoder.json', 'caption_decoder.json', 'food_classifier.json'];

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { repo: { type: 'string', default: 'model_repository' }, parity: { type: 'string', default: 'model-tools/parity' }, files: { type: 'string' } } });
  let failed = false;
  for (const f of values.files ? values.files.split(',') : PARITY_FILES) {
    const { model, maxAbsDiff } = await parityOf(values.repo!, join(values.parity!, f));
    for (const [name, d] of Object.entries(maxAbsDiff)) {
      const ok = d < TOLERANCE;
      failed ||= !ok;
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${model}.${name}: max |onnx - pytorch| = ${d.toExponential(2)} (limit ${TOLERANCE})`);
    }
  }
  process.exit(failed ? 1 : 0);
}
