/**
 * InferStreams' bookkeeping with scripted streams. A fake, allowed here because it plays what a
 * real server does not do on demand: answering out of order or with unknown ids, answering
 * without infer_response, ending or breaking one stream while others stay up. The real streams
 * are tested in gateway/test/infer-stream.test.ts (answers, refusals, deadlines, a stopped server).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { ModelInferRequest, ModelInferResponse } from '../../../proto/gen/grpc_service.js';
import { GatewayError } from '../errors/index.js';
import { InferStreams, type OpenStream } from './infer-stream.js';

/** A stream that records what is written and answers only when the test says so. */
class ScriptedStream extends EventEmitter {
  readonly written: ModelInferRequest[] = [];
  ended = false;
  write(req: ModelInferRequest): boolean {
    this.written.push(req);
    return true;
  }
  end(): void {
    this.ended = true;
  }
  answer(id: string, extra: Partial<ModelInferResponse> = {}): void {
    this.emit('data', { errorMessage: '', inferResponse: { modelName: 'm', modelVersion: '1', id, parameters: {}, outputs: [], rawOutputContents: [], ...extra } });
  }
}

function streams(count: number) {
  const opened: ScriptedStream[] = [];
  const open = (() => {
    const s = new ScriptedStream();
    opened.push(s);
    return s;
  }) as unknown as OpenStream;
  return { pool: new InferStreams(open, count), opened };
}

const request = (id = ''): ModelInferRequest => ({ modelName: 'm', modelVersion: '', id, parameters: {}, inputs: [], outputs: [], rawInputContents: [] });
const later = () => Date.now() + 10_000;
const settled = <T>(p: Promise<T>) => p.then((value) => ({ value }), (error: Error) => ({ error }));

describe('InferStreams', () => {
  it('opens streams lazily, rotates over count of them, and gives every request a unique id keeping its own', async () => {
    const { pool, opened } = streams(3);
    assert.equal(opened.length, 0);
    const sent = [0, 1, 2, 3, 4].map((i) => pool.send(request(i % 2 ? `req-${i}` : ''), later()));
    assert.equal(opened.length, 3);
    assert.deepEqual(opened.map((s) => s.written.length), [2, 2, 1]);
    const ids = opened.flatMap((s) => s.written.map((r) => r.id));
    assert.deepEqual(ids.sort(), ['0', '1:req-1', '2', '3:req-3', '4']);
    // Answers out of order, each to its own request.
    for (const s of [...opened].reverse()) for (const r of [...s.written].reverse()) s.answer(r.id, { modelVersion: r.id });
    assert.deepEqual((await Promise.all(sent)).map((r) => r.modelVersion), ['0', '1:req-1', '2', '3:req-3', '4']);
  });

  it('a single stream when asked for none', async () => {
    const { pool, opened } = streams(0);
    const a = pool.send(request(), later());
    const b = pool.send(request(), later());
    assert.equal(opened.length, 1);
    for (const r of opened[0]!.written) opened[0]!.answer(r.id);
    await Promise.all([a, b]);
  });

  it('an error message on the stream fails that request only, with the status its words name; an answer without infer_response too', async () => {
    const { pool, opened } = streams(1);
    const refused = settled(pool.send(request(), later()));
    const empty = settled(pool.send(request(), later()));
    const fine = pool.send(request(), later());
    const [a, b, c] = opened[0]!.written.map((r) => r.id);
    opened[0]!.emit('data', { errorMessage: 'Exceeds maximum queue size', inferResponse: { id: a } });
    opened[0]!.emit('data', { errorMessage: '', inferResponse: undefined });
    opened[0]!.emit('data', { errorMessage: '', inferResponse: { id: 'nobody', outputs: [] } });
    opened[0]!.answer(c!);
    const refusal = (await refused) as { error: GatewayError };
    assert.deepEqual([refusal.error.code, refusal.error.detail], ['GW_ERR_OVERLOADED', "ModelStreamInfer 'm': Exceeds maximum queue size"]);
    assert.equal((refusal.error.cause as { code: number }).code, status.UNAVAILABLE);
    await fine;
    // The answer without infer_response carries no id, so it reached no one: b still waits.
    opened[0]!.emit('data', { errorMessage: '', inferResponse: undefined, id: b });
    pool.close();
    assert.equal(((await empty) as { error: GatewayError }).error.code, 'GW_ERR_TRITON_UNAVAILABLE');
  });

  it('an aborted request is abandoned at once with the signal\'s reason; its late answer goes nowhere and the others still get theirs', async () => {
    const { pool, opened } = streams(1);
    const controller = new AbortController();
    const abandoned = settled(pool.send(request(), later(), controller.signal));
    const other = pool.send(request(), later());
    const reason = new Error('client went away');
    controller.abort(reason);
    assert.equal(((await abandoned) as { error: Error }).error, reason);
    const [a, b] = opened[0]!.written.map((r) => r.id);
    opened[0]!.answer(a!);
    opened[0]!.answer(b!);
    await other;
    // Already aborted: nothing is written.
    await assert.rejects(pool.send(request(), later(), controller.signal), (e) => e === reason);
    assert.equal(opened[0]!.written.length, 2);
  });

  it('refusals read their status from Triton\'s words: unknown model, bad input, not ready, queue timeout, anything else INTERNAL', async () => {
    const { pool, opened } = streams(1);
    const cases = [
      ["Request for unknown model: 'x' is not found", 'GW_ERR_TRITON_REJECTED', status.NOT_FOUND],
      ["[request id: 7] unexpected shape for input 'a' for model 'm'. Expected [-1,3], got [1,4]. ", 'GW_ERR_TRITON_REJECTED', status.INVALID_ARGUMENT],
      ["Request for unknown model: 'm' version 1 is not at ready state", 'GW_ERR_TRITON_UNAVAILABLE', status.UNAVAILABLE],
      ['Request timeout expired', 'GW_ERR_TRITON_DEADLINE', status.UNAVAILABLE],
      ['onnx runtime error 6: Non-zero status code returned while running Gather node', 'GW_ERR_TRITON_INTERNAL', status.INTERNAL],
    ] as const;
    const sent = cases.map(() => settled(pool.send(request(), later())));
    opened[0]!.written.forEach((r, i) => opened[0]!.emit('data', { errorMessage: cases[i]![0], inferResponse: { id: r.id } }));
    for (const [i, [, code, grpc]] of cases.entries()) {
      const { error } = (await sent[i]) as { error: GatewayError };
      assert.deepEqual([error.code, (error.cause as { code: number }).code], [code, grpc], cases[i]![0]);
    }
  });

  it('a request without an answer by its deadline is GW_ERR_TRITON_DEADLINE; its late answer goes nowhere', async () => {
    const { pool, opened } = streams(1);
    const late = await settled(pool.send(request(), Date.now() + 20));
    const error = (late as { error: GatewayError }).error;
    assert.deepEqual([error.code, error.detail], ['GW_ERR_TRITON_DEADLINE', "ModelStreamInfer 'm': no response before the deadline"]);
    assert.equal((error.cause as { code: number }).code, status.DEADLINE_EXCEEDED);
    opened[0]!.answer(opened[0]!.written[0]!.id);
    const next = pool.send(request(), later());
    opened[0]!.answer(opened[0]!.written[1]!.id);
    await next;
  });

  it('a stream that fails or ends takes its own requests with it, and is reopened on next use', async () => {
    const { pool, opened } = streams(2);
    const onFirst = settled(pool.send(request(), later()));
    const onSecond = settled(pool.send(request(), later()));
    opened[0]!.emit('error', Object.assign(new Error('14 UNAVAILABLE: reset'), { code: status.UNAVAILABLE, details: 'connection reset' }));
    const failed = ((await onFirst) as { error: GatewayError }).error;
    assert.deepEqual([failed.code, failed.detail], ['GW_ERR_TRITON_UNAVAILABLE', "ModelStreamInfer 'm': connection reset"]);
    // The other stream's request still waits, and is answered.
    opened[1]!.answer(opened[1]!.written[0]!.id);
    assert.ok('value' in (await onSecond));
    // Stream 0 was replaced by a third one; stream 1 is still open and reused.
    const again = [pool.send(request(), later()), pool.send(request(), later())];
    assert.equal(opened.length, 3);
    assert.deepEqual(opened.map((s) => s.written.length), [1, 2, 1]);
    opened[2]!.answer(opened[2]!.written[0]!.id);
    opened[1]!.answer(opened[1]!.written[1]!.id);
    await Promise.all(again);

    const ended = settled(pool.send(request(), later()));
    opened[2]!.emit('end');
    const error = ((await ended) as { error: GatewayError }).error;
    assert.deepEqual([error.code, error.detail], ['GW_ERR_TRITON_UNAVAILABLE', "ModelStreamInfer 'm': stream ended by the server"]);
    // The rotation goes on to stream 1, then back to slot 0, whose stream ended: a fourth.
    const reopened = [pool.send(request(), later()), pool.send(request(), later())];
    assert.equal(opened.length, 4);
    opened[1]!.answer(opened[1]!.written[2]!.id);
    opened[3]!.answer(opened[3]!.written[0]!.id);
    await Promise.all(reopened);
  });

  it('a stream reset without a status (a server going away) is UNAVAILABLE; other INTERNAL failures stay INTERNAL', async () => {
    const { pool, opened } = streams(2);
    const reset = settled(pool.send(request(), later()));
    const broken = settled(pool.send(request(), later()));
    const internal = (details: string) => Object.assign(new Error(`13 INTERNAL: ${details}`), { code: status.INTERNAL, details });
    opened[0]!.emit('error', internal('Received RST_STREAM with code 0 (Call ended without gRPC status)'));
    opened[1]!.emit('error', internal('Protocol error'));
    const unavailable = ((await reset) as { error: GatewayError }).error;
    assert.deepEqual([unavailable.code, unavailable.retryAfterSeconds], ['GW_ERR_TRITON_UNAVAILABLE', 1]);
    assert.equal(((await broken) as { error: GatewayError }).error.code, 'GW_ERR_TRITON_INTERNAL');
  });

  it('close ends every open stream and fails what waits as UNAVAILABLE', async () => {
    const { pool, opened } = streams(2);
    const waiting = [settled(pool.send(request(), later())), settled(pool.send(request(), later()))];
    opened[1]!.emit('end');
    pool.close();
    assert.deepEqual(opened.map((s) => s.ended), [true, false], 'the stream the server ended is not ended again');
    for (const w of await Promise.all(waiting)) {
      const e = (w as { error: GatewayError }).error;
      assert.equal(e.code, 'GW_ERR_TRITON_UNAVAILABLE');
      assert.match(e.detail, /^ModelStreamInfer 'm': (client closed|stream ended by the server)$/);
    }
    assert.equal(((await waiting[0]!) as { error: GatewayError }).error.detail, "ModelStreamInfer 'm': client closed");
  });
});
