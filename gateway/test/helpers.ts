/**
 * @module gateway/test/helpers
 * Starts a real gateway on a free port over real gRPC to a real model server with the committed
 * models — the embedded one, or the real tritonserver when TEST_MODEL_SERVER=triton (the same
 * assertions judge both) — and makes test images with sharp.
 */
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { zlib } from './zlib-crc.js';
import { loadConfig } from '../src/config/index.js';
import { type RunningGateway, startGateway, type StartOptions } from '../src/main.js';
import { type RunningTriton, startTriton } from '../../triton-harness/start-triton.js';
import { startModelServer } from '../../modelserver/src/index.js';

export const REPOSITORY = process.env.TEST_MODEL_REPOSITORY ?? new URL('../../model_repository', import.meta.url).pathname;

/** Which model server the end-to-end tests run against: `embedded` (default) or `triton`. */
export const MODEL_SERVER = parseModelServer(process.env.TEST_MODEL_SERVER);

function parseModelServer(value: string | undefined): 'embedded' | 'triton' {
  if (value === undefined || value === '' || value === 'embedded') return 'embedded';
  if (value === 'triton') return 'triton';
  throw new Error(`TEST_MODEL_SERVER must be embedded or triton, not ${value}`);
}

export interface TestGateway extends RunningGateway {
  /** Stops the model server behind the gateway (embedded or Triton), leaving the gateway up. */
  stopModelServer(): Promise<void>;
}

/**
 * A gateway with `env` over the selected model server. With TEST_MODEL_SERVER=triton each call
 * starts its own tritonserver (so a test may stop it); `stop()` stops both.
 */
export async function startTestGateway(env: Record<string, string> = {}, options: StartOptions = {}): Promise<TestGateway> {
  let triton: RunningTriton | undefined;
  if (MODEL_SERVER === 'triton' && env['TRITON_URL'] === undefined) triton = await startTriton({ modelRepository: REPOSITORY });
  let gateway: RunningGateway;
  try {
    const tritonUrl = triton ? { TRITON_URL: triton.address } : {};
    gateway = await startGateway(loadConfig({ PORT: '0', HOST: '127.0.0.1', MODEL_REPOSITORY: REPOSITORY, LOG_LEVEL: 'silent', ...tritonUrl, ...env }), options);
  } catch (err) {
    await triton?.stop();
    throw err;
  }
  return {
    ...gateway,
    stopModelServer: async () => {
      await gateway.modelServer?.stop();
      await triton?.stop();
    },
    stop: async () => {
      await gateway.stop();
      await triton?.stop();
    },
  };
}

/** The selected model server (embedded, or tritonserver with TEST_MODEL_SERVER=triton) over `modelRepository`. */
export async function startSelectedModelServer(modelRepository: string): Promise<{ address: string; stop(): Promise<void> }> {
  return MODEL_SERVER === 'triton' ? startTriton({ modelRepository }) : startModelServer({ modelRepository, grpcPort: 0, log: () => {} });
}

/** multipart/form-data with the image in field `image` plus string fields. */
export function form(image: Uint8Array, fields: Record<string, string> = {}, filename = 'scene.png', type = 'image/png'): FormData {
  const f = new FormData();
  f.append('image', new Blob([image], { type }), filename);
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
}

export async function solidPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#c08040' } }).png().toBuffer();
}

/** A valid PNG file that declares width × height but holds almost no data (header-only check). */
export function hugePngHeader(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.from([0]))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
}

/** Checks `res` is an application/problem+json answer with `status` and `code`, and returns it. */
export async function expectProblem(res: Response, status: number, code: string): Promise<Problem> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const problem = JSON.parse(text) as Problem;
  assert.equal(problem.code, code);
  assert.equal(problem.status, status);
  assert.ok(problem.title && problem.detail && problem.type.endsWith(code));
  return problem;
}
