/**
 * The triton folder's pure functions, with inputs no real server sends on demand: every gRPC
 * status code through toGatewayError (model-errors.test.ts maps the ones real servers answer),
 * classification strings of every shape, the deadline arithmetic at its boundaries, and what
 * lazySpec makes of a failed read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metadata, status } from '@grpc/grpc-js';
import { joinBytesElements } from '../../../modelserver/src/tensors/tensor.js';
import { GatewayError } from '../errors/index.js';
import { parseClassification } from './classification.js';
import { asRequestDeadline, callDeadline, withCallDeadline } from './deadlines.js';
import { lazySpec } from './lazy-spec.js';
import { RETRY_AFTER_SECONDS, toGatewayError } from './status-map.js';

const serviceError = (code: status, details: string) => Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: new Metadata() });

describe('toGatewayError', () => {
  const expected: Record<string, [string, number, number | undefined]> = {
    UNAVAILABLE: ['GW_ERR_TRITON_UNAVAILABLE', 503, RETRY_AFTER_SECONDS],
    RESOURCE_EXHAUSTED: ['GW_ERR_TRITON_UNAVAILABLE', 503, RETRY_AFTER_SECONDS],
    CANCELLED: ['GW_ERR_TRITON_UNAVAILABLE', 503, RETRY_AFTER_SECONDS],
    DEADLINE_EXCEEDED: ['GW_ERR_TRITON_DEADLINE', 504, undefined],
    INVALID_ARGUMENT: ['GW_ERR_TRITON_REJECTED', 502, undefined],
    NOT_FOUND: ['GW_ERR_TRITON_REJECTED', 502, undefined],
    UNIMPLEMENTED: ['GW_ERR_TRITON_REJECTED', 502, undefined],
  };

  it('maps every gRPC status code to its catalogue code, HTTP status and Retry-After', () => {
    assert.equal(RETRY_AFTER_SECONDS, 1);
    for (const [name, code] of Object.entries(status).filter(([, v]) => typeof v === 'number') as Array<[string, status]>) {
      if (code === status.OK) continue;
      const err = serviceError(code, `details of ${name}`);
      const mapped = toGatewayError(err, "ModelInfer 'm'");
      const [want, http, retry] = expected[name] ?? ['GW_ERR_TRITON_INTERNAL', 502, undefined];
      assert.deepEqual([mapped.code, mapped.status, mapped.retryAfterSeconds], [want, http, retry], name);
      assert.equal(mapped.detail, `ModelInfer 'm': details of ${name}`, name);
      assert.equal(mapped.cause, err);
    }
  });

  it('describes errors without details by their message, and anything else as text', () => {
    assert.equal(toGatewayError(Object.assign(new Error('socket hang up'), { code: status.UNAVAILABLE, details: '' }), 'ServerReady').detail, 'ServerReady: socket hang up');
    const plain = toGatewayError('boom', 'ModelConfig');
    assert.deepEqual([plain.code, plain.detail], ['GW_ERR_TRITON_INTERNAL', 'ModelConfig: boom']);
  });
});

describe('parseClassification', () => {
  const raw = (...items: string[]) => joinBytesElements(items.map((s) => new TextEncoder().encode(s)));

  it('reads score, index and label in rank order; a label may contain colons; no label is the index', () => {
    assert.deepEqual(parseClassification(raw('0.75:3:rice', '0.125:10:a:b:c', '0.0625:7')), [
      { score: 0.75, index: 3, label: 'rice' },
      { score: 0.125, index: 10, label: 'a:b:c' },
      { score: 0.0625, index: 7, label: '7' },
    ]);
    assert.deepEqual(parseClassification(raw('1e-3:0:')), [{ score: 0.001, index: 0, label: '' }]);
    assert.deepEqual(parseClassification(new Uint8Array(0)), []);
  });

  it('refuses strings that are not classification results, quoting them', () => {
    for (const bad of ['rice', 'x:3:rice', '0.5:x:rice', '0.5:1.5:rice', '0.5:', 'NaN:1']) {
      assert.throws(() => parseClassification(raw(bad)), (e: Error) => e.message === `not a classification result: '${bad}'`, bad);
    }
  });
});

describe('call deadlines', () => {
  it('a call gets the smaller of the remaining budget and the call timeout', () => {
    assert.equal(callDeadline(10_000, 500, 1_000), 1_500);
    assert.equal(callDeadline(1_200, 500, 1_000), 1_200);
    assert.equal(callDeadline(1_500, 500, 1_000), 1_500);
  });

  it("a model-server deadline at or past the request's becomes the request's own 504; others pass through", () => {
    const triton = new GatewayError('GW_ERR_TRITON_DEADLINE', "ModelInfer 'm': Deadline exceeded");
    for (const deadline of [1_000, 1_001]) {
      const mapped = asRequestDeadline(triton, deadline, 1_000) as GatewayError;
      assert.equal(mapped.code, 'GW_ERR_DEADLINE');
      assert.equal(mapped.detail, "the request deadline passed during a model-server call (ModelInfer 'm': Deadline exceeded)");
      assert.equal(mapped.cause, triton);
    }
    assert.equal(asRequestDeadline(triton, 999, 1_000), triton, "the call's own deadline stays GW_ERR_TRITON_DEADLINE");
    const other = new GatewayError('GW_ERR_TRITON_UNAVAILABLE', 'down');
    assert.equal(asRequestDeadline(other, 1_000, 1_000), other);
    const notOurs = new Error('GW_ERR_TRITON_DEADLINE');
    assert.equal(asRequestDeadline(notOurs, 1_000, 1_000), notOurs);
  });
});

describe('withCallDeadline', () => {
  it('gives the call min(request deadline, now + call timeout), and makes no call once the request deadline passed', async () => {
    const seen: number[] = [];
    const before = Date.now();
    assert.equal(await withCallDeadline({ deadline: before + 60_000, callTimeoutMs: 500 }, async (d) => (seen.push(d), 'ok')), 'ok');
    await withCallDeadline({ deadline: before + 200, callTimeoutMs: 10_000 }, async (d) => seen.push(d));
    assert.ok(seen[0]! >= before + 500 && seen[0]! <= Date.now() + 500, String(seen[0]! - before));
    assert.equal(seen[1], before + 200);
    let called = false;
    await assert.rejects(
      withCallDeadline({ deadline: Date.now() - 1, callTimeoutMs: 500 }, async () => (called = true)),
      (e: GatewayError) => e.code === 'GW_ERR_DEADLINE' && e.detail === 'the request deadline passed before the answer was complete',
    );
    assert.equal(called, false);
  });

  it("answers a model-server timeout as the request's 504 only when the call had the request's deadline", async () => {
    const timeout = async () => {
      throw new GatewayError('GW_ERR_TRITON_DEADLINE', "ModelInfer 'm': Deadline exceeded");
    };
    await assert.rejects(withCallDeadline({ deadline: Date.now() + 60_000, callTimeoutMs: 500 }, timeout), (e: GatewayError) => e.code === 'GW_ERR_TRITON_DEADLINE');
    await assert.rejects(withCallDeadline({ deadline: Date.now() + 500, callTimeoutMs: 60_000 }, timeout), (e: GatewayError) => e.code === 'GW_ERR_DEADLINE');
  });
});

describe('lazySpec', () => {
  it('reads once, retries after a failure, and calls a model it cannot read unavailable (503 with Retry-After)', async () => {
    const answers: Array<() => Promise<string>> = [
      async () => {
        throw new GatewayError('GW_ERR_TRITON_REJECTED', "ModelConfig 'm': Request for unknown model");
      },
      async () => {
        throw new Error("model 'm': no 'probabilities' output");
      },
      async () => 'spec',
    ];
    let reads = 0;
    const spec = lazySpec('m', () => answers[reads++]!());
    for (const reason of ["ModelConfig 'm': Request for unknown model", "model 'm': no 'probabilities' output"]) {
      await assert.rejects(spec(), (e: GatewayError) => {
        assert.deepEqual([e.code, e.status, e.retryAfterSeconds, e.detail], ['GW_ERR_MODEL_UNAVAILABLE', 503, 1, `model 'm' is not available: ${reason}`]);
        return true;
      });
    }
    assert.deepEqual([await spec(), await spec(), reads], ['spec', 'spec', 3]);
  });

  it('lets a down or slow model server answer for itself instead of calling the model unavailable', async () => {
    for (const code of ['GW_ERR_TRITON_UNAVAILABLE', 'GW_ERR_TRITON_DEADLINE', 'GW_ERR_DEADLINE'] as const) {
      const failure = new GatewayError(code, "ModelConfig 'm': Deadline exceeded");
      let reads = 0;
      const spec = lazySpec('m', async () => {
        reads++;
        throw failure;
      });
      await assert.rejects(spec(), (e) => e === failure);
      await assert.rejects(spec(), (e) => e === failure);
      assert.equal(reads, 2, `${code}: not cached`);
    }
  });
});
