/**
 * @module triton/deadlines
 * Deadlines of model-server calls within a request: every call (encoder, ensemble, each decoder
 * step) gets its own, the smaller of the request's remaining budget and TRITON_TIMEOUT_MS. When a
 * call runs out because the whole request did, the answer is the request's 504
 * (`GW_ERR_DEADLINE`), not the model server's (`GW_ERR_TRITON_DEADLINE`): the client learns
 * which limit it hit.
 */
import { abortReason, GatewayError } from '../errors/index.js';

/**
 * The absolute deadline (ms since epoch) of one model-server call started `now`: at most
 * `callTimeoutMs` from now, and never past `requestDeadline`.
 */
export function callDeadline(requestDeadline: number, callTimeoutMs: number, now = Date.now()): number {
  return Math.min(requestDeadline, now + callTimeoutMs);
}

/**
 * The error a call with `deadline` failed with, as the request should see it: a model-server
 * deadline becomes the request's own when the call's deadline was the request's.
 */
export function asRequestDeadline(err: unknown, deadline: number, requestDeadline: number): unknown {
  if (err instanceof GatewayError && err.code === 'GW_ERR_TRITON_DEADLINE' && deadline >= requestDeadline) {
    return new GatewayError('GW_ERR_DEADLINE', `the request deadline passed during a model-server call (${err.detail})`, undefined, { cause: err });
  }
  return err;
}

/** A request's deadlines, as the services get them from the HTTP layer. */
export interface RequestDeadlines {
  /** Absolute deadline (ms since epoch) of the whole request. */
  readonly deadline: number;
  /** Each model-server call's own budget, ms (TRITON_TIMEOUT_MS). */
  readonly callTimeoutMs: number;
  /**
   * Aborted when nobody waits for the answer any more (the client went away): the call in
   * flight is abandoned and no other starts; it rejects with the signal's reason.
   */
  readonly signal?: AbortSignal;
}

/**
 * Runs one model-server call of a request: never after the request's deadline (504
 * `GW_ERR_DEADLINE` at once), with {@link callDeadline} as its deadline, and a timeout that was
 * the request's own answered as the request's (see {@link asRequestDeadline}).
 */
export async function withCallDeadline<T>(ctx: RequestDeadlines, call: (deadline: number, signal?: AbortSignal) => Promise<T>): Promise<T> {
  throwIfRequestDeadlinePassed(ctx);
  const deadline = callDeadline(ctx.deadline, ctx.callTimeoutMs);
  try {
    return await call(deadline, ctx.signal);
  } catch (err) {
    throw asRequestDeadline(err, deadline, ctx.deadline);
  }
}

/**
 * Throws once the request should stop: the signal's reason when it was aborted, the request's
 * 504 (`GW_ERR_DEADLINE`) once its deadline has passed. No call starts after either.
 */
export function throwIfRequestDeadlinePassed(ctx: Pick<RequestDeadlines, 'deadline' | 'signal'>): void {
  if (ctx.signal?.aborted) throw abortReason(ctx.signal);
  if (Date.now() >= ctx.deadline) throw new GatewayError('GW_ERR_DEADLINE', 'the request deadline passed before the answer was complete');
}
