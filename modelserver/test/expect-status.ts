/**
 * @module test/expect-status
 * Asserts that a gRPC call fails with a given status code (and message), the way Triton's
 * clients see errors (kserve-v2-grpc.md §2.9).
 */
import assert from 'node:assert/strict';
import { status, type ServiceError } from '@grpc/grpc-js';

/**
 * Awaits `call` and asserts it rejects with gRPC status `code` and, when given, a `details`
 * message matching `message`. Returns the error for further checks.
 *
 * @example
 * await expectStatus(t.call('modelReady', { name: 'nope', version: '' }), status.NOT_FOUND, /unknown model/);
 */
export async function expectStatus(call: Promise<unknown>, code: status, message?: RegExp): Promise<ServiceError> {
  let error: ServiceError | undefined;
  try {
    await call;
  } catch (err) {
    error = err as ServiceError;
  }
  assert.ok(error, `expected gRPC status ${status[code]}, but the call succeeded`);
  assert.equal(status[error.code], status[code], `unexpected status for: ${error.details}`);
  if (message) assert.match(error.details, message);
  return error;
}
