/**
 * @module triton/status-map
 * The one mapping from model-server failures to the gateway's catalogue errors
 * (kserve-v2-grpc.md §2.9): the model server being down is a 503 the client may retry, a full
 * queue is the service being overloaded (503 `GW_ERR_OVERLOADED`), a missed deadline is a 504 (a
 * queue timeout included: the gateway sends each call's remaining budget as Triton's `timeout`),
 * and a request the server rejects is the gateway's own fault (it builds the tensors), hence 502.
 *
 * A request refused on a ModelStreamInfer stream comes back as `error_message` text without a
 * gRPC status; {@link streamRefusalStatus} reads the status from Triton's wording.
 */
import { type ServiceError, status } from '@grpc/grpc-js';
import { GatewayError } from '../errors/index.js';

/** Seconds a client should wait after the model server reported UNAVAILABLE. */
export const RETRY_AFTER_SECONDS = 1;

// Triton's words for its two queue-policy refusals (dynamic_batch_scheduler.cc, both UNAVAILABLE).
const QUEUE_FULL = /Exceeds maximum queue size/i;
const QUEUE_TIMEOUT = /Request timeout expired/i;

export function toGatewayError(err: unknown, what: string): GatewayError {
  const e = err as Partial<ServiceError>;
  const message = e.details || e.message || String(err);
  const detail = `${what}: ${message}`;
  switch (e.code) {
    case status.UNAVAILABLE:
      if (QUEUE_FULL.test(message)) return new GatewayError('GW_ERR_OVERLOADED', detail, RETRY_AFTER_SECONDS, { cause: err });
      if (QUEUE_TIMEOUT.test(message)) return new GatewayError('GW_ERR_TRITON_DEADLINE', detail, undefined, { cause: err });
      return new GatewayError('GW_ERR_TRITON_UNAVAILABLE', detail, RETRY_AFTER_SECONDS, { cause: err });
    case status.RESOURCE_EXHAUSTED:
    case status.CANCELLED:
      return new GatewayError('GW_ERR_TRITON_UNAVAILABLE', detail, RETRY_AFTER_SECONDS, { cause: err });
    case status.DEADLINE_EXCEEDED:
      return new GatewayError('GW_ERR_TRITON_DEADLINE', detail, undefined, { cause: err });
    case status.INVALID_ARGUMENT:
    case status.NOT_FOUND:
    case status.UNIMPLEMENTED:
      return new GatewayError('GW_ERR_TRITON_REJECTED', detail, undefined, { cause: err });
    default:
      return new GatewayError('GW_ERR_TRITON_INTERNAL', detail, undefined, { cause: err });
  }
}

// Triton's messages for what its unary calls answer NOT_FOUND, UNAVAILABLE or INVALID_ARGUMENT
// (kserve-v2-grpc.md §2.9's table; server/core error strings). Anything else on a stream is an
// execution failure: INTERNAL.
const STREAM_REFUSALS: ReadonlyArray<readonly [RegExp, status]> = [
  [QUEUE_FULL, status.UNAVAILABLE],
  [QUEUE_TIMEOUT, status.UNAVAILABLE],
  [/is not at ready state|shutting down|not ready/i, status.UNAVAILABLE],
  [/unknown model|is not found|has no available versions/i, status.NOT_FOUND],
  [
    /unexpected (shape|inference (input|output)|'content'|number of string elements)|already exists in request|must not be specified|unable to find data|batch-size must be|batch size does not match|has no shape|data-type is|All input dimensions should be specified|byte size mismatch|missing required input|expected \d+ string elements|invalid value type/i,
    status.INVALID_ARGUMENT,
  ],
];

/**
 * The gRPC status of a request the server refused on a stream, from the words of
 * `error_message`: what its unary call would have answered. The request is never sent again to
 * find out: on a server that is already full that would double its load.
 */
export function streamRefusalStatus(message: string): Partial<ServiceError> {
  const code = STREAM_REFUSALS.find(([pattern]) => pattern.test(message))?.[1] ?? status.INTERNAL;
  return { code, details: message };
}
