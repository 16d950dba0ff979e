/**
 * @module gateway/test/helpers
 * Starts a real gateway (embedded model server over real gRPC, committed models) on a free port,
 * and makes test images with sharp.
 */
import { zlib } from './zlib-crc.js';
import sharp from 'sharp';
import { loadConfig } from '../src/config/index.js';
import { type RunningGateway, startGateway } from '../src/main.js';

export const REPOSITORY = process.env.TEST_MODEL_REPOSITORY ?? new URL('../../model_repository', import.meta.url).pathname;

export async function startTestGateway(env: Record<string, string> = {}): Promise<RunningGateway> {
  return startGateway(loadConfig({ PORT: '0', HOST: '127.0.0.1', MODEL_REPOSITORY: REPOSITORY, LOG_LEVEL: 'silent', ...env }));
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
