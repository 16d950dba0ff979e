/**
 * @module errors
 * The one error type the server raises for a request, carrying the gRPC status Triton would
 * answer with (kserve-v2-grpc.md §2.9). Every layer throws it; only the gRPC layer reads it.
 */
import { status } from '@grpc/grpc-js';

export class InferenceServerError extends Error {
  constructor(
    readonly code: status,
    message: string,
    /**
     * False for a request a scheduler refused to queue: Triton's statistics never see it
     * (core InferenceRequest::Run returns the enqueue error before anything is recorded).
     */
    readonly counted = true,
  ) {
    super(message);
    this.name = 'InferenceServerError';
  }
}

/** INVALID_ARGUMENT: the request is malformed for this model. */
export function invalidArgument(message: string): InferenceServerError {
  return new InferenceServerError(status.INVALID_ARGUMENT, message);
}

/** NOT_FOUND: unknown model or version. */
export function notFound(message: string): InferenceServerError {
  return new InferenceServerError(status.NOT_FOUND, message);
}

/** UNAVAILABLE: not ready, queue full, timed out in queue, shutting down. */
export function unavailable(message: string): InferenceServerError {
  return new InferenceServerError(status.UNAVAILABLE, message);
}

/** UNAVAILABLE for a request a scheduler would not queue (queue full, shutting down): not counted. */
export function refused(message: string): InferenceServerError {
  return new InferenceServerError(status.UNAVAILABLE, message, false);
}

/**
 * CANCELLED: the request was withdrawn while queued. Triton's batcher answers such a request
 * with a bare CANCELLED status, no message (core dynamic_batch_scheduler.cc,
 * FinishRejectedCancelledRequests); its client has already gone, so nobody reads it.
 */
export function cancelled(): InferenceServerError {
  return new InferenceServerError(status.CANCELLED, '');
}

/** INTERNAL: the backend failed. */
export function internal(message: string): InferenceServerError {
  return new InferenceServerError(status.INTERNAL, message);
}

/** UNIMPLEMENTED: a feature this server does not offer. */
export function unimplemented(message: string): InferenceServerError {
  return new InferenceServerError(status.UNIMPLEMENTED, message);
}

/** Wraps anything thrown into an InferenceServerError (INTERNAL unless it already is one). */
export function asServerError(err: unknown): InferenceServerError {
  if (err instanceof InferenceServerError) return err;
  return internal(err instanceof Error ? err.message : String(err));
}
