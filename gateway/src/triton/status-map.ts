/**
 * @module triton/status-map
 * The one mapping from gRPC status codes to the gateway's catalogue errors
 * (kserve-v2-grpc.md §2.9): the model server being down or overloaded is a 503 the client may
 * retry, a missed deadline is a 504, and a request the server rejects is the gateway's own fault
 * (it builds the tensors), hence 502.
 */
import { type ServiceError, status } from '@grpc/grpc-js';
import { GatewayError } from '../errors/index.js';

/** Seconds a client should wait after the model server reported UNAVAILABLE. */
export const RETRY_AFTER_SECONDS = 1;

export function toGatewayError(err: unknown, what: string): GatewayError {
  const e = err as Partial<ServiceError>;
  const detail = `${what}: ${e.details || e.message || String(err)}`;
  switch (e.code) {
    case status.UNAVAILABLE:
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
