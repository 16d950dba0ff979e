/**
 * @module http/admitted-work
 * The work routes' side of admission control (admission/): what a request costs, refusing before
 * the upload is read what would be refused anyway, and running admitted work so that admission
 * learns how it ended.
 */
import type { RequestHandler, Response } from 'express';
import type { AdmissionController, AdmissionRequest } from '../admission/index.js';
import { GatewayError } from '../errors/index.js';
import { type RequestBudget, setStage } from './request-deadline.js';

/** A request as admission weighs it, before its deadline and signal are known. */
export type Work = Omit<AdmissionRequest, 'deadline' | 'signal'>;

/**
 * A caption's work for admission, from its num_beams and food options (as strings: the query's
 * own, before validation, or the validated values): every decoder step carries num_beams rows,
 * so a beam-8 caption costs about eight greedy ones. Anything invalid counts as greedy (the
 * validation that follows answers it).
 */
export function captionWork(options: Record<string, unknown>, maxBeams: number): Work {
  const n = Number(options['num_beams'] ?? 1);
  const beams = Number.isInteger(n) && n >= 1 && n <= maxBeams ? n : 1;
  const food = options['food'] === 'true' || options['food'] === '1';
  return { workClass: 'caption', kind: `caption:beams=${beams}${food ? ':food' : ''}`, cost: beams };
}

/** One model call of an encoder's size: a unit, as a greedy caption (which also runs its steps) is. */
export const CLASSIFY_WORK: Work = { workClass: 'classify', kind: 'classify', cost: 1 };

/**
 * Refuses, before its upload is read, a request admission would refuse anyway (with the options
 * the query gives; a multipart form's are only known once read, and are checked then): at 10x
 * load nearly every upload is refused, and receiving them was most of the cost of refusing.
 */
export function shedEarly(admission: AdmissionController, work: (query: Record<string, unknown>) => Work): RequestHandler {
  return (req, res, next) => {
    const budget = res.locals['budget'] as RequestBudget;
    next(admission.check({ ...work(req.query as Record<string, unknown>), deadline: budget.deadline }));
  };
}

/**
 * Waits for admission, runs `work`, and releases its units with how it ended. A model server
 * or decode queue refusing for being full answers with a Retry-After that allows for the
 * admission queue too.
 */
export async function runAdmitted<T>(
  admission: AdmissionController,
  res: Response,
  request: Work,
  work: (budget: RequestBudget) => Promise<T>,
): Promise<T> {
  const budget = res.locals['budget'] as RequestBudget;
  setStage(res, 'queue');
  const ticket = await admission.admit({ ...request, deadline: budget.deadline, signal: budget.signal });
  try {
    const result = await work(budget);
    ticket.release('ok');
    return result;
  } catch (err) {
    const code = err instanceof GatewayError ? err.code : undefined;
    ticket.release(code === 'GW_ERR_OVERLOADED' ? 'overloaded' : code === 'GW_ERR_DEADLINE' || code === 'GW_ERR_TRITON_DEADLINE' ? 'deadline' : 'failed');
    // A full model-server queue (or decode queue) says to come back; when is the later of its own
    // estimate and the admission queue's, which the work must also pass through again.
    if (err instanceof GatewayError && code === 'GW_ERR_OVERLOADED') {
      throw new GatewayError('GW_ERR_OVERLOADED', err.detail, Math.max(err.retryAfterSeconds ?? 1, admission.retryAfterSeconds()), { cause: err });
    }
    throw err;
  }
}
