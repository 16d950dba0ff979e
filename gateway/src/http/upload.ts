/**
 * @module http/upload
 * Reads the image from either a multipart form (field `image`, multer with memory storage) or a
 * raw `image/*` body, with a size limit on both. Form fields and query parameters become the
 * request's options. Anything else is a 415.
 */
import express, { type RequestHandler } from 'express';
import multer from 'multer';
import { GatewayError } from '../errors/index.js';

export interface Upload {
  readonly image: Uint8Array;
  readonly options: Record<string, unknown>;
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
    const done = (err: unknown, image?: Uint8Array, fields: Record<string, unknown> = {}) => {
      if (err) return next(uploadError(err, maxBytes));
      // A present but empty image goes on to preprocessing, which answers 422 "empty upload".
      if (!image) {
        return next(new GatewayError('GW_ERR_UPLOAD_MISSING', 'send the image as multipart field "image" or as an image/* request body'));
      }
      res.locals['upload'] = { image, options: { ...query, ...fields } } satisfies Upload;
      next();
    };
    if (type.startsWith('multipart/form-data')) {
      form(req, res, (err: unknown) => done(err, req.file?.buffer, req.body as Record<string, unknown>));
    } else if (type.startsWith('image/')) {
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
