import { credentials, Metadata } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient, type ModelStatisticsResponse } from '../proto/gen/grpc_service.js';
import { startModelServer } from '../modelserver/src/index.js';
import { TritonClient } from '../gateway/src/triton/client.js';
import { DecoderStepBatcher } from '../gateway/src/triton/decode-step.js';
import { decoderSpecOf, imageSpecOf } from '../gateway/src/triton/model-spec.js';
const server = await startModelServer({ modelRepository: 'model_repository', grpcPort: 0, host: '127.0.0.1', log: () => {} });
const client = new TritonClient(server.address);
const stats = new GRPCInferenceServiceClient(server.address, credentials.createInsecure());
const deadline = Date.now() + 600_000;
const encoder = imageSpecOf(await client.modelConfig('caption_encoder', deadline));
const decoder = decoderSpecOf(await client.modelConfig('caption_decoder', deadline));
const pixels = new Float32Array(3 * 64 * 64).fill(0.2);
const out = await client.infer(encoder.model, { [encoder.inputName]: { datatype: 'FP32', shape: [1, 3, 64, 64], raw: new Uint8Array(pixels.buffer) } }, { deadline });
const emb = out.get('image_embeds')!;
const batcher = new DecoderStepBatcher(client, decoder);
const step = batcher.stepFor({ imageEmbeds: emb, deadline });
const seq = [decoder.bosTokenId, 10, 11, 12, 13, 14, 15];
const st = async () => { const r = await new Promise<ModelStatisticsResponse>((res, rej) => stats.modelStatistics({ name: 'caption_decoder', version: '' }, new Metadata(), (e, x) => (e ? rej(e) : res(x!)))); const s = r.modelStats[0]!.inferenceStats!; return { n: Number(s.success!.count), total: Number(s.success!.ns), queue: Number(s.queue!.ns), cin: Number(s.computeInput!.ns), cinf: Number(s.computeInfer!.ns), cout: Number(s.computeOutput!.ns) }; };
for (let i = 0; i < 3000; i++) await step([seq]);
for (let w = 0; w < 4; w++) {
  const a = await st(); const c0 = process.cpuUsage(); const xs: number[] = [];
  for (let i = 0; i < 1000; i++) { const t = performance.now(); await step([seq]); xs.push(performance.now() - t); }
  const cpu = process.cpuUsage(c0); const b = await st(); const n = b.n - a.n;
  xs.sort((p, q) => p - q);
  const us = (k: keyof typeof a) => ((b[k] - a[k]) / n / 1000).toFixed(0);
  console.log(`step p50 ${(xs[500]! * 1000).toFixed(0)} µs, p10 ${(xs[100]! * 1000).toFixed(0)}; server: total ${us('total')} queue ${us('queue')} in ${us('cin')} infer ${us('cinf')} out ${us('cout')} µs; main-process CPU/step ${((cpu.user + cpu.system) / 1000).toFixed(0)} µs`);
}
stats.close(); client.close(); await server.stop();
