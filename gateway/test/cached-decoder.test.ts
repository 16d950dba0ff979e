/**
 * The cached decoder end to end (model-tools/cached-decoder.md): two gateways over one model
 * server (embedded, or tritonserver with TEST_MODEL_SERVER=triton), one decoding with the
 * stateless `caption_decoder`, one with `caption_decoder_cached`, whose state the server keeps.
 * Every caption must come out the same, greedy and beams, with prompts and penalties; concurrent
 * captions' steps batch on the server; and no sequence outlives its caption, cancelled ones
 * included: after thousands of captions all 64 slots open at once, which a slot held by a
 * forgotten sequence would delay until the server's idle timeout (5 s).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import { form, REPOSITORY, startSelectedModelServer, startTestGateway, type TestGateway } from './helpers.js';
import { modelCounts } from './model-stats.js';
import { TritonClient, type RawTensor } from '../src/triton/client.js';
import { decoderSpecOf, type DecoderSpec } from '../src/triton/model-spec.js';

const CACHED = 'caption_decoder_cached';
/** The cached decoder's max_candidate_sequences: slots on the server's one instance. */
const SLOTS = 64;

let server: { address: string; stop(): Promise<void> };
let stateless: TestGateway;
let cached: TestGateway;
const images: Uint8Array[] = [];
const labels: string[] = [];

before(async () => {
  server = await startSelectedModelServer(REPOSITORY);
  const env = { TRITON_URL: server.address };
  stateless = await startTestGateway(env);
  cached = await startTestGateway({ ...env, CAPTION_DECODER_MODEL: CACHED });
  for (let seed = 5_200_001; seed <= 5_200_008; seed++) {
    const scene = generateScene(seed);
    images.push(await renderScene(scene, 'png'));
    labels.push(scene.label);
  }
});
after(async () => {
  await cached?.stop();
  await stateless?.stop();
  await server?.stop();
});

interface Caption {
  readonly status: number;
  readonly caption?: string;
  readonly tokens?: number;
}

async function caption(gw: TestGateway, image: Uint8Array, fields: Record<string, string> = {}, signal?: AbortSignal, headers: Record<string, string> = {}): Promise<Caption> {
  const res = await fetch(`${gw.url}/caption`, { method: 'POST', body: form(image, fields), signal, headers });
  const body = (await res.json()) as { caption?: string; tokens?: number };
  return { status: res.status, caption: body.caption, tokens: body.tokens };
}

/** Raw START and END requests of the cached decoder, as the gateway sends them (batch size 1). */
let probe: TritonClient;
let spec: DecoderSpec;

async function openSequence(id: string): Promise<number> {
  const t0 = Date.now();
  await probe.infer(CACHED, stepInputs(spec.embedsShape), { deadline: Date.now() + 10_000, sequence: { id, start: true, end: false } });
  return Date.now() - t0;
}

async function closeSequence(id: string): Promise<void> {
  await probe.infer(CACHED, stepInputs([1, 1]), { deadline: Date.now() + 10_000, sequence: { id, start: false, end: true } });
}

function stepInputs([n, d]: readonly [number, number]): Record<string, RawTensor> {
  const i64 = (values: bigint[], shape: number[]) => ({ datatype: 'INT64', shape, raw: new Uint8Array(BigInt64Array.from(values).buffer) });
  const f32 = (values: number[], shape: number[]) => ({ datatype: 'FP32', shape, raw: new Uint8Array(Float32Array.from(values).buffer) });
  return {
    input_ids: i64([BigInt(spec.bosTokenId)], [1, 1, 1]),
    beam_idx: i64([0n], [1, 1]),
    image_embeds: f32(new Array(n * d).fill(0.1), [1, n, d]),
    repetition_penalty: f32([1], [1, 1]),
    suppress_eos: i64([0n], [1, 1]),
    normalize_scores: i64([0n], [1, 1]),
  };
}

describe('the cached decoder', () => {
  before(async () => {
    probe = new TritonClient(server.address);
    spec = decoderSpecOf(await probe.modelConfig(CACHED, Date.now() + 10_000));
  });
  after(() => probe?.close());

  const optionSets: Array<Record<string, string>> = [
    {},
    { num_beams: '3' },
    { repetition_penalty: '1.3' },
    { num_beams: '3', repetition_penalty: '1.6' },
    { min_new_tokens: '18' },
    { num_beams: '2', max_new_tokens: '6' },
  ];

  for (const options of optionSets) {
    it(`captions exactly as the stateless decoder, concurrently, with ${JSON.stringify(options)} and with a prompt`, async () => {
      const cases = images.flatMap((image, i) => [
        { image, fields: options },
        { image, fields: { ...options, prompt: `a photo of ${labels[i]},` } },
      ]);
      const [want, got] = await Promise.all([
        Promise.all(cases.map((c) => caption(stateless, c.image, c.fields))),
        Promise.all(cases.map((c) => caption(cached, c.image, c.fields))),
      ]);
      for (const [i, w] of want.entries()) {
        assert.equal(w.status, 200, JSON.stringify(w));
        assert.deepEqual(got[i], w, `case ${i} (${JSON.stringify(cases[i]!.fields)})`);
      }
    });
  }

  it('batches the steps of concurrent captions on the server', async () => {
    const before = await modelCounts(server.address, CACHED);
    const answers = await Promise.all(images.map((image) => caption(cached, image)));
    assert.ok(answers.every((a) => a.status === 200));
    const after = await modelCounts(server.address, CACHED);
    const requests = after.inferences - before.inferences;
    const executions = after.executions - before.executions;
    assert.ok(requests >= images.length * 3, `${requests} step requests for ${images.length} captions`);
    assert.ok(executions < requests, `${requests} step requests ran in ${executions} executions: steps of different captions must batch`);
  });

  it('leaves no sequence behind after thousands of captions, cancelled ones included', { timeout: 240_000 }, async () => {
    const total = 2000;
    let next = 0;
    let cancelled = 0;
    let finished = 0;
    const worker = async () => {
      while (next < total) {
        const k = next++;
        const image = images[k % images.length]!;
        if (k % 10 === 3) {
          // A client that leaves mid-caption: the gateway must end its sequence.
          const abort = new AbortController();
          setTimeout(() => abort.abort(), 2 + (k % 7));
          await caption(cached, image, { num_beams: String(1 + (k % 3)) }, abort.signal).catch(() => undefined);
          cancelled++;
        } else {
          const r = await caption(cached, image, k % 4 === 0 ? { num_beams: '3' } : {});
          assert.equal(r.status, 200, JSON.stringify(r));
          finished++;
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    assert.equal(finished + cancelled, total);
    assert.ok(cancelled >= total / 10 - 1);
    // Every slot must be free now: SLOTS sequences opened at once must all start at once. A
    // slot some caption left behind would hold one of them back until the server's idle timeout.
    const started = await Promise.all(Array.from({ length: SLOTS }, (_, i) => openSequence(`probe-${i}`)));
    const slowest = Math.max(...started);
    await Promise.all(Array.from({ length: SLOTS }, (_, i) => closeSequence(`probe-${i}`)));
    assert.ok(slowest < 2000, `opening ${SLOTS} sequences took up to ${slowest} ms: a slot was still held`);
  });
});
