/**
 * @module gateway/test/model-stats
 * What a model server recorded for a model (ModelStatistics over real gRPC), and waiting until it
 * has recorded something: tests judge by what the server did, not by how long things took.
 */
import { credentials, Metadata } from '@grpc/grpc-js';
import { GRPCInferenceServiceClient, type ModelStatistics } from '../../proto/gen/grpc_service.js';

/** The counts a test compares: requests (batch rows), executions, and successful requests. */
export interface ModelCounts {
  readonly inferences: number;
  readonly executions: number;
  readonly successes: number;
}

/** Reads `model`'s statistics from the server at `address`. */
export async function modelCounts(address: string, model: string): Promise<ModelCounts> {
  const client = new GRPCInferenceServiceClient(address, credentials.createInsecure());
  try {
    const res = await new Promise<{ modelStats: ModelStatistics[] }>((resolve, reject) =>
      client.modelStatistics({ name: model, version: '' }, new Metadata(), (err, r) => (err ? reject(err) : resolve(r))),
    );
    const s = res.modelStats[0];
    return {
      inferences: Number(s?.inferenceCount ?? 0),
      executions: Number(s?.executionCount ?? 0),
      successes: Number(s?.inferenceStats?.success?.count ?? 0),
    };
  } finally {
    client.close();
  }
}

/** Polls `read` every 20 ms until `done` holds for its value (or `timeoutMs` passes: an error). */
export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
