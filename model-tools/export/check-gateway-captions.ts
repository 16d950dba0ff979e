/**
 * @module model-tools/export/check-gateway-captions
 * Replays export_blip.py's caption comparison through the gateway's own code: the exported ONNX
 * encoder and decoder on ONNX Runtime, the decoder settings read from config.pbtxt, the prompt
 * prefix from CaptionTokenizer (tokenizer.json through @huggingface/tokenizers) and greedyDecode.
 * Every caption must have exactly the token ids transformers' generate() produced, and the same
 * text for the generated part. Inputs: <parity>/caption_generation.json (transformers' ids) and
 * the pixel_values rows of <parity>/caption_encoder.json.
 * Usage: tsx model-tools/export/check-gateway-captions.ts --repo OUT --parity OUT-parity
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { decoderInputs } from '../../gateway/src/triton/decoder-inputs.js';
import { CaptionTokenizer, greedyDecode, type DecodeStep } from '../../gateway/src/generation/index.js';
import { decoderSpecOf, imageSpecOf } from '../../gateway/src/triton/model-spec.js';
import { readConfig } from '../check/onnx-captioner.js';

interface Caption {
  readonly image: string;
  readonly pixel_row: number;
  readonly prompt: string;
  readonly transformers_ids: number[];
  readonly transformers_text: string;
}

interface Generation {
  readonly hf_max_length: number;
  readonly captions: Caption[];
}

interface TensorRecord {
  readonly datatype: 'FP32' | 'INT64';
  readonly shape: number[];
  readonly b64: string;
}

const { values } = parseArgs({ options: { repo: { type: 'string' }, parity: { type: 'string' } } });
if (!values.repo || !values.parity) {
  console.error('usage: tsx model-tools/export/check-gateway-captions.ts --repo OUT --parity OUT-parity');
  process.exit(2);
}
const repo = values.repo;
const generation = JSON.parse(readFileSync(join(values.parity, 'caption_generation.json'), 'utf8')) as Generation;
const pixels = (JSON.parse(readFileSync(join(values.parity, 'caption_encoder.json'), 'utf8')) as { inputs: Record<string, TensorRecord> }).inputs[
  'pixel_values'
]!;

const image = imageSpecOf(readConfig(repo, 'caption_encoder'));
const spec = decoderSpecOf(readConfig(repo, 'caption_decoder'));
const tokenizer = CaptionTokenizer.fromJson(JSON.parse(readFileSync(join(repo, 'caption_decoder', spec.tokenizerFile), 'utf8')), spec.bosTokenId);
const encoder = await ort.InferenceSession.create(join(repo, 'caption_encoder', '1', 'model.onnx'));
const decoder = await ort.InferenceSession.create(join(repo, 'caption_decoder', '1', 'model.onnx'));

const pixelData = new Float32Array(new Uint8Array(Buffer.from(pixels.b64, 'base64')).buffer);
const embeds = (await encoder.run({ [image.inputName]: new ort.Tensor('float32', pixelData, pixels.shape) }))['image_embeds']!;
const [, tokens, hidden] = embeds.dims as [number, number, number];
const L = spec.maxLength;

/** As the gateway builds decoder steps (decoderInputs, same padding and mask). */
function stepFor(row: number): DecodeStep {
  const rowData = (embeds.data as Float32Array).subarray(row * tokens * hidden, (row + 1) * tokens * hidden);
  return async (sequences) => {
    const n = sequences.length;
    const { inputIds, attentionMask } = decoderInputs(sequences, L, spec.padTokenId);
    const imageEmbeds = new Float32Array(n * tokens * hidden);
    for (let i = 0; i < n; i++) imageEmbeds.set(rowData, i * tokens * hidden);
    const out = await decoder.run({
      input_ids: new ort.Tensor('int64', inputIds, [n, L]),
      attention_mask: new ort.Tensor('int64', attentionMask, [n, L]),
      image_embeds: new ort.Tensor('float32', imageEmbeds, [n, tokens, hidden]),
    });
    const logits = out['logits']!.data as Float32Array;
    return sequences.map((_, i) => logits.slice(i * spec.vocabSize, (i + 1) * spec.vocabSize));
  };
}

let failed = 0;
for (const c of generation.captions) {
  const prefix = tokenizer.prefix(c.prompt);
  // transformers' max_length counts the whole decoder sequence, [DEC] and prompt included.
  const result = await greedyDecode(stepFor(c.pixel_row), prefix, {
    bosTokenId: spec.bosTokenId,
    eosTokenId: spec.eosTokenId,
    maxLength: L,
    maxNewTokens: Math.max(0, generation.hf_max_length - prefix.length),
    minNewTokens: 0,
    numBeams: 1,
    repetitionPenalty: 1,
  });
  const ids = [...prefix, ...result.tokens, ...(result.finishReason === 'eos' ? [spec.eosTokenId] : [])];
  // CaptionTokenizer.decode([]) throws in @huggingface/tokenizers ("token_ids must be a non-empty
  // array"): a caption that ends right after the prompt needs this guard in the gateway too.
  if (result.tokens.length === 0) console.log(`note: empty caption for ${c.image} ${JSON.stringify(c.prompt)}: CaptionTokenizer.decode([]) would throw`);
  const text = result.tokens.length ? tokenizer.decode(result.tokens) : '';
  const sameIds = ids.length === c.transformers_ids.length && ids.every((t, i) => t === c.transformers_ids[i]);
  const sameText = text === c.transformers_text;
  if (!sameIds || !sameText) failed++;
  console.log(`${sameIds && sameText ? 'ok  ' : 'FAIL'} gateway ${c.image} prompt ${JSON.stringify(c.prompt)}: ${JSON.stringify(text)}`);
  if (!sameIds) console.log(`     transformers ${JSON.stringify(c.transformers_ids)}\n     gateway      ${JSON.stringify(ids)}`);
  if (!sameText) console.log(`     transformers text ${JSON.stringify(c.transformers_text)}`);
}
console.log(`gateway captions: ${generation.captions.length - failed}/${generation.captions.length} identical to transformers (tokenizer + greedyDecode on the ONNX files)`);
await encoder.release();
await decoder.release();
process.exit(failed ? 1 : 0);
