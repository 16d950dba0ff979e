/**
 * @module http/request-id
 * Every response carries X-Request-Id: the client's own when it sent a sane one, else a new UUID.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

const SANE = /^[\w.:/+=-]{1,128}$/;

export const requestId: RequestHandler = (req, res, next) => {
  const sent = req.get('x-request-id');
  const id = sent && SANE.test(sent) ? sent : randomUUID();
  res.locals['requestId'] = id;
  res.set('X-Request-Id', id);
  next();
};
