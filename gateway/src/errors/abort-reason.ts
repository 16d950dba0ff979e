/**
 * @module errors/abort-reason
 * What work abandoned through an AbortSignal rejects with, wherever it was abandoned.
 */

/** The signal's reason when it is an Error (the HTTP layer aborts with a GatewayError), else a plain Error. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(`request abandoned: ${String(reason)}`);
}
