/**
 * TRITON_URL forms: host:port, and dns:///host:port, with which grpc-js resolves every address of
 * the name and the client's round_robin policy spreads calls over Triton replicas.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentials, Metadata } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient, type ModelStatisticsResponse } from '../../proto/gen/grpc_service.js';
import { startModelServer } from '../../modelserver/src/index.js';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';
import { loadConfig } from '../src/config/index.js';
import { form, REPOSITORY, startTestGateway } from './helpers.js';

/** How many successful inference requests `model` has served, from the server's own ModelStatistics. */
function served(address: string, model: string): Promise<number> {
  const stats = new GRPCInferenceServiceClient(address, credentials.createInsecure());
  return new Promise<ModelStatisticsResponse>((resolve, reject) =>
    stats.modelStatistics({ name: model, version: '' }, new Metadata(), (err, r) => (err ? reject(err) : resolve(r))),
  )
    .then((r) => Number(r.modelStats[0]!.inferenceStats!.success!.count))
    .finally(() => stats.close());
}

describe('TRITON_URL', () => {
  it('accepts host:port and dns:///host:port, refuses anything else by name', () => {
    for (const url of ['triton:8001', '10.0.0.7:8001', '[::1]:8001', 'dns:///triton:8001']) assert.equal(loadConfig({ TRITON_URL: url }).TRITON_URL, url);
    for (const url of ['http://triton:8001', 'triton', 'dns://triton:8001']) assert.throws(() => loadConfig({ TRITON_URL: url }), /TRITON_URL/);
  });

  it('serves captions from an external model server reached through a dns:/// target', async () => {
    const server = await startModelServer({ modelRepository: REPOSITORY, grpcPort: 0, host: '127.0.0.1', log: () => {} });
    const gw = await startTestGateway({ TRITON_URL: `dns:///127.0.0.1:${server.port}` });
    try {
      assert.equal(gw.modelServer, undefined, 'no embedded server when TRITON_URL is set');
      assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);
      const before = await served(server.address, 'caption_encoder');
      const res = await fetch(`${gw.url}/caption`, { method: 'POST', body: form(await renderScene(generateScene(4_500_000), 'png')) });
      assert.equal(res.status, 200, await res.clone().text());
      assert.ok(((await res.json()) as { caption: string }).caption.length > 0);
      // The caption was encoded by that server, reached through the dns:/// target.
      assert.equal(await served(server.address, 'caption_encoder'), before + 1);
    } finally {
      await gw.stop();
      await server.stop();
    }
  });
});
