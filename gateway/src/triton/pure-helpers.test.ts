/**
 * The triton folder's pure functions, with inputs no real server sends on demand: every gRPC
 * status code through toGatewayError (model-errors.test.ts maps the ones real servers answer),
 * classification strings of every shape, and the deadline arithmetic at its boundaries.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metadata, status } from '@grpc/grpc-js';
import { joinBytesElements } from '../../../modelserver/src/tensors/tensor.js';
import { GatewayError } from '../errors/index.js';
import { parseClassification } from './classification.js';
import { asRequestDeadline, callDeadline } from './deadlines.js';
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
