/**
 * @module http/upload
 * Reads the image from either a multipart form (field `image`, multer with memory storage) or a
 * raw `image/*` body, with a size limit on both and, on a server that {@link guardUploadTimes}
 * guards, a time limit on the body. Form fields and query parameters become the request's
 * options. Anything else is a 415. A request whose headers or body do not arrive in time is
 * answered 408 `GW_ERR_UPLOAD_TIMEOUT` problem+json, and its connection closed.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import express, { type RequestHandler } from 'express';
import multer from 'multer';
import { ERROR_CATALOGUE, GatewayError } from '../errors/index.js';
import { PROBLEM_TYPE_BASE } from './problem.js';

export interface Upload {
  readonly image: Uint8Array;
  readonly options: Record<string, unknown>;
}

/** When each request's body must have arrived (epoch ms) and the timeout, set by {@link guardUploadTimes}. */
const bodyDeadlines = new WeakMap<IncomingMessage, { readonly at: number; readonly timeoutMs: number }>();

export interface UploadTimes {
  /** A request's body must arrive within this of its headers, ms ({@link readUpload} answers 408). */
  readonly bodyTimeoutMs: number;
}

/**
 * Bounds how long a client may take to send a request on `server`: every request's body gets
 * `bodyTimeoutMs` from its headers (enforced by {@link readUpload}, which answers through the
 * error middleware, so the 408 is logged and counted), and Node's own header and request
 * timeouts (`headersTimeout`, `requestTimeout`) are answered with the same problem+json instead
 * of Node's bare 408. Node sends nothing itself once a `clientError` listener exists, so the
 * other client errors get Node's own answers here.
 *
 * @example
 * const server = createServer({ headersTimeout: 10_000, requestTimeout: 41_000 }, app);
 * guardUploadTimes(server, { bodyTimeoutMs: 30_000 });
 */
export function guardUploadTimes(server: Server, times: UploadTimes): void {
  // The latest response on each connection.
  const latest = new WeakMap<Duplex, ServerResponse>();
  // First, so the deadline counts from the moment the headers were parsed.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    bodyDeadlines.set(req, { at: Date.now() + times.bodyTimeoutMs, timeoutMs: times.bodyTimeoutMs });
    latest.set(req.socket, res);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // The request was answered before its body had arrived (a 415, say), and the body is what
    // stalled: nothing more can be said on the connection, so it is closed. Between requests
    // (the latest one whole) a stalled next request is answered like any other.
    const res = latest.get(socket);
    if (!socket.writable || (res?.headersSent && !res.req.complete)) {
      socket.destroy();
      return;
    }
    const answer = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? timeoutAnswer() : NODE_CLIENT_ERROR_ANSWERS[err.code ?? ''] ?? BAD_REQUEST;
    // Destroyed once the answer is written: HTTP sockets stay half open until the client closes.
    socket.end(answer, () => socket.destroy());
  });
}

/** Node's own answers to client errors (lib/_http_server.js), sent when no listener handles them. */
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';
const NODE_CLIENT_ERROR_ANSWERS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n',
};

/** The 408 problem+json for a request Node timed out before Express saw it (no request id yet). */
function timeoutAnswer(): string {
  const code = 'GW_ERR_UPLOAD_TIMEOUT';
  const { status, title } = ERROR_CATALOGUE[code];
  const body = JSON.stringify({ type: PROBLEM_TYPE_BASE + code, title, status, detail: 'The request headers or body did not arrive within their timeout.', code });
  return [
    `HTTP/1.1 ${status} Request Timeout`,
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** Middleware that leaves `res.locals.upload` set, or fails with a catalogue error. */
export function readUpload(maxBytes: number): RequestHandler {
  const form = multer({
    storage: multer.memoryStorage(),
    // multer's defaults are unbounded; every limit is set.
    limits: { fileSize: maxBytes, files: 1, fields: 16, parts: 20, fieldSize: 4096, fieldNameSize: 100 },
  }).single('image');
  // type-is cannot parse a media range: `Content-Type: image/*` (what Swagger UI sends for the
  // documented image/* body) would pass the check below yet be left unread, an "empty upload".
  const raw = express.raw({ type: (req) => (req.headers['content-type'] ?? '').startsWith('image/'), limit: maxBytes });

  return (req, res, next) => {
    const type = req.get('content-type') ?? '';
    const query = { ...(req.query as Record<string, unknown>) };
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const done = (err: unknown, image?: Uint8Array, fields: Record<string, unknown> = {}) => {
      // After a timeout the parser may still call back (when the connection closes): ignored.
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) return next(uploadError(err, maxBytes));
      // A present but empty image goes on to preprocessing, which answers 422 "empty upload".
      if (!image) {
        return next(new GatewayError('GW_ERR_UPLOAD_MISSING', 'send the image as multipart field "image" or as an image/* request body'));
      }
      res.locals['upload'] = { image, options: { ...query, ...fields } } satisfies Upload;
      next();
    };
    // While a parser reads the body: it waits for bytes that may never come, and would read or
    // wait for the rest of the body before the connection could serve another request, so the
    // 408 closes the connection.
    const armBodyTimer = () => {
      const deadline = bodyDeadlines.get(req);
      if (deadline === undefined) return;
      timer = setTimeout(() => {
        if (!res.headersSent) res.setHeader('Connection', 'close');
        done(new GatewayError('GW_ERR_UPLOAD_TIMEOUT', `The request body did not arrive within ${deadline.timeoutMs} ms of its headers.`));
      }, Math.max(0, deadline.at - Date.now()));
    };
    if (type.startsWith('multipart/form-data')) {
      armBodyTimer();
      form(req, res, (err: unknown) => done(err, req.file?.buffer, req.body as Record<string, unknown>));
    } else if (type.startsWith('image/')) {
      armBodyTimer();
      raw(req, res, (err: unknown) => done(err, Buffer.isBuffer(req.body) ? req.body : new Uint8Array(0)));
    } else if (type === '' && req.get('content-length') === undefined && req.get('transfer-encoding') === undefined) {
      done(undefined);
    } else {
      next(new GatewayError('GW_ERR_UPLOAD_UNSUPPORTED_TYPE', `content type '${type || 'none'}' is not an image upload; use multipart/form-data or image/*`));
    }
  };
}

function uploadError(err: unknown, maxBytes: number): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = err as { code?: string; type?: string; field?: string; message?: string };
  if (e.type === 'entity.too.large' || e.code === 'LIMIT_FILE_SIZE') {
    return new GatewayError('GW_ERR_UPLOAD_TOO_LARGE', `the image exceeds the ${maxBytes}-byte upload limit`);
  }
  if (e.code === 'LIMIT_UNEXPECTED_FILE') {
    return new GatewayError('GW_ERR_UPLOAD_MALFORMED', `unexpected file field '${e.field}': send one file, in field "image"`);
  }
  return new GatewayError('GW_ERR_UPLOAD_MALFORMED', `malformed upload: ${e.message ?? String(err)}`);
}
