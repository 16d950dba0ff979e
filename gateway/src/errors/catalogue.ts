/**
 * @module errors/catalogue
 * Every error the gateway answers with, grouped by stage: a stable machine-readable code, the
 * HTTP status, and a short title. Codes never change once shipped; README.md lists them all.
 */

export interface ErrorDefinition {
  readonly status: number;
  readonly title: string;
}

export const ERROR_CATALOGUE = {
  // http: the upload itself
  GW_ERR_UPLOAD_MISSING: { status: 400, title: 'No image in the request' },
  GW_ERR_UPLOAD_TOO_LARGE: { status: 413, title: 'Upload too large' },
  GW_ERR_UPLOAD_UNSUPPORTED_TYPE: { status: 415, title: 'Not an image upload' },
  GW_ERR_UPLOAD_MALFORMED: { status: 400, title: 'Malformed upload' },
  GW_ERR_UPLOAD_TIMEOUT: { status: 408, title: 'Upload timed out' },
  // validation: options
  GW_ERR_OPTION_INVALID: { status: 400, title: 'Invalid option' },
  // preprocess: the image
  GW_ERR_IMAGE_UNDECODABLE: { status: 422, title: 'Image cannot be decoded' },
  GW_ERR_IMAGE_DEGENERATE: { status: 422, title: 'Image too small' },
  GW_ERR_IMAGE_TOO_MANY_PIXELS: { status: 422, title: 'Image has too many pixels' },
  // triton: the model server
  GW_ERR_TRITON_UNAVAILABLE: { status: 503, title: 'Model server unavailable' },
  GW_ERR_TRITON_DEADLINE: { status: 504, title: 'Model server deadline exceeded' },
  GW_ERR_TRITON_REJECTED: { status: 502, title: 'Model server rejected the request' },
  GW_ERR_TRITON_INTERNAL: { status: 502, title: 'Model server error' },
  GW_ERR_MODEL_UNAVAILABLE: { status: 503, title: 'Model not available' },
  // generation and everything else
  GW_ERR_DEADLINE: { status: 504, title: 'Request deadline exceeded' },
  GW_ERR_OVERLOADED: { status: 503, title: 'Service overloaded' },
  // nginx's 499: never sent (the client is gone), but logged and counted with the stage reached.
  GW_ERR_CLIENT_CLOSED: { status: 499, title: 'Client closed the request' },
  GW_ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  GW_ERR_INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;
