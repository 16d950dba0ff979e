/**
 * @module http/request-deadline
 * Each work request's deadline and abort signal, fixed when it arrives:
 * - the deadline is REQUEST_TIMEOUT_MS after arrival, or sooner when the client sends
 *   `Request-Timeout: <seconds>` (a decimal number, e.g. `2.5`; more than REQUEST_TIMEOUT_MS is
 *   capped to it, anything that is not a positive number is a 400);
 * - the signal aborts when the client closes the connection before the answer is sent, with a
 *   GW_ERR_CLIENT_CLOSED error: whatever the request is doing (waiting for admission, a
 *   model-server call, the decode loop) stops, and the stage it had reached is in
 *   `res.locals['stage']` for the access log and metrics (observe-requests.ts).
 */
import type { RequestHandler, Response } from 'express';
import { GatewayError } from '../errors/index.js';

/** The header a client shortens its deadline with: seconds, as Retry-After counts them. */
export const REQUEST_TIMEOUT_HEADER = 'Request-Timeout';

/** What the work routes read from `res.locals`. */
export interface RequestBudget {
  /** Absolute deadline, ms since epoch. */
  readonly deadline: number;
  readonly signal: AbortSignal;
}

const SECONDS = /^\d+(\.\d+)?$/;

/** Sets `res.locals['budget']` (a {@link RequestBudget}) and `res.locals['stage']` = 'upload'. */
export function requestDeadline(requestTimeoutMs: number): RequestHandler {
  return (req, res, next) => {
    const arrived = Date.now();
    const sent = req.get(REQUEST_TIMEOUT_HEADER);
    let budgetMs = requestTimeoutMs;
    if (sent !== undefined) {
      const seconds = SECONDS.test(sent.trim()) ? Number(sent.trim()) : NaN;
      if (!(seconds > 0)) {
        next(new GatewayError('GW_ERR_OPTION_INVALID', `${REQUEST_TIMEOUT_HEADER} must be a positive number of seconds, e.g. 2.5; got '${sent}'`));
        return;
      }
      budgetMs = Math.min(requestTimeoutMs, seconds * 1000);
    }
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new GatewayError('GW_ERR_CLIENT_CLOSED', 'the client closed the connection before the answer was sent'));
    });
    res.locals['budget'] = { deadline: arrived + budgetMs, signal: controller.signal } satisfies RequestBudget;
    setStage(res, 'upload');
    next();
  };
}

/** Records the stage a request has reached, for the 499 of a client that leaves during it. */
export function setStage(res: Response, stage: string): void {
  res.locals['stage'] = stage;
}
