/**
 * @module preprocess/decode-image.test
 * Uploads made with sharp (no mocks) through header checks, the decode pipeline and
 * normalisation: formats, training parity, orientation, alpha, colour spaces, and every refusal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { generateScene, renderScene, resizeForModel } from '../../../model-tools/scenes/index.js';
import { GatewayError, type ErrorCode } from '../errors/index.js';
import { configureSharp, DecodeLimiter, decodeToRgb, inspectImage, preprocessImage, type ImagePreprocessSpec } from './index.js';

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;
const SPEC: ImagePreprocessSpec = {
  size: 16,
  resizeMode: 'squash',
  resample: 'bicubic',
  rescaleFactor: 1 / 255,
  mean: CLIP_MEAN,
  std: CLIP_STD,
};
const LIMITS = { maxPixels: 4_000_000, minSide: 8 };
const PIXELS = SPEC.size * SPEC.size;

type Rgb = readonly [number, number, number];

function solid(width: number, height: number, [r, g, b]: Rgb) {
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } });
}

/** A width×height image, `left` colour on the left half and `right` on the right. */
function halves(width: number, height: number, left: Rgb, right: Rgb) {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(x < width / 2 ? left : right, (y * width + x) * 3);
  }
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

/** Deterministic noise, so encoders cannot shrink the pixel data and a cut lands inside it. */
function noisy(width: number, height: number) {
  const raw = Buffer.alloc(width * height * 3);
  let state = 1;
  for (let i = 0; i < raw.length; i++) raw[i] = (state = (state * 1103515245 + 12345) >>> 0) >>> 24;
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

function pixel(rgb: Uint8Array, x: number, y: number, size = SPEC.size): Rgb {
  const i = (y * size + x) * 3;
  return [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!];
}

function assertNear(actual: Rgb, expected: Rgb, tolerance: number, what: string): void {
  assert.ok(
    actual.every((v, c) => Math.abs(v - expected[c]!) <= tolerance),
    `${what}: got [${actual.join(',')}], expected [${expected.join(',')}] ±${tolerance}`,
  );
}

async function assertRefused(promise: Promise<unknown>, code: ErrorCode, status: number): Promise<GatewayError> {
  let caught: unknown;
  await assert.rejects(promise, (err) => {
    caught = err;
    return err instanceof GatewayError && err.code === code && err.status === status;
  });
  return caught as GatewayError;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A PNG that declares width×height RGB but holds almost nothing: a few bytes in all. libvips'
 * PNG loader refuses a file without any IDAT even for metadata, so one with a single deflated
 * zero byte is included; the pixel data itself is missing.
 */
function pngHeaderOnly(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('preprocessImage', () => {
  it('decodes JPEG, PNG and WebP to 3·S·S values', async () => {
    for (const format of ['jpeg', 'png', 'webp'] as const) {
      const bytes = await solid(40, 30, [10, 120, 230]).toFormat(format).toBuffer();
      const { pixelValues, info, timingsMs } = await preprocessImage(bytes, SPEC, LIMITS);
      assert.equal(pixelValues.length, 3 * PIXELS, format);
      assert.equal(info.format, format);
      assert.deepEqual([info.width, info.height, info.orientation, info.pages], [40, 30, 1, 1], format);
      assert.ok(pixelValues.every(Number.isFinite), format);
      assert.ok(timingsMs.decode >= 0 && timingsMs.resize >= 0 && timingsMs.normalise >= 0);
    }
  });

  it('normalises a known pixel to (v·rescale − mean) / std, channels first', async () => {
    const colour: Rgb = [200, 100, 50];
    const { pixelValues } = await preprocessImage(await solid(24, 20, colour).png().toBuffer(), SPEC, LIMITS);
    for (let c = 0; c < 3; c++) {
      const expected = (colour[c]! / 255 - CLIP_MEAN[c]!) / CLIP_STD[c]!;
      for (const p of [0, 37, PIXELS - 1]) {
        const actual = pixelValues[c * PIXELS + p]!;
        assert.ok(Math.abs(actual - expected) < 1e-5, `channel ${c} pixel ${p}: ${actual} vs ${expected}`);
      }
    }
  });

  it('writes image `index` of a batch in place and leaves the others alone', async () => {
    const batch = new Float32Array(2 * 3 * PIXELS).fill(7);
    const bytes = await solid(20, 20, [255, 255, 255]).png().toBuffer();
    const { pixelValues } = await preprocessImage(bytes, SPEC, LIMITS, batch, 1);
    assert.equal(pixelValues, batch);
    assert.ok(batch.subarray(0, 3 * PIXELS).every((v) => v === 7));
    assert.ok(Math.abs(batch[3 * PIXELS]! - (1 - CLIP_MEAN[0]) / CLIP_STD[0]) < 1e-5);
    await assert.rejects(preprocessImage(bytes, SPEC, LIMITS, batch, 2), RangeError);
  });

  it('gives the training resize byte for byte (resizeForModel on the same scene file)', async () => {
    for (const seed of [0, 1, 7]) {
      for (const format of ['png', 'jpeg'] as const) {
        const file = await renderScene(generateScene(seed), format);
        for (const size of [64, 24]) {
          const { rgb } = await decodeToRgb(file, { ...SPEC, size }, { maxPixels: 40_000_000, minSide: 8 });
          const training = await resizeForModel(file, size);
          assert.ok(rgb.equals(training), `seed ${seed} ${format} at ${size}: serving pixels differ from training`);
        }
      }
    }
  });

  it('applies EXIF orientation before resizing', async () => {
    // Orientation 6 means "rotate 90° clockwise to display": the left half ends up on top.
    const bytes = await halves(40, 20, [255, 0, 0], [0, 0, 255]).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const { rgb, info } = await decodeToRgb(bytes, SPEC, LIMITS);
    assert.deepEqual([info.width, info.height, info.orientation], [20, 40, 6]);
    assertNear(pixel(rgb, 8, 2), [255, 0, 0], 40, 'top');
    assertNear(pixel(rgb, 8, 13), [0, 0, 255], 40, 'bottom');
  });

  it('flattens transparency onto white', async () => {
    const bytes = await sharp({ create: { width: 20, height: 20, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer();
    const { rgb, info } = await decodeToRgb(bytes, SPEC, LIMITS);
    assert.ok(info.hasAlpha);
    assert.equal(rgb.length, 3 * PIXELS);
    assert.ok(rgb.every((v) => v === 255));
  });

  it('turns greyscale PNG and CMYK JPEG into 3-channel RGB', async () => {
    const grey = await solid(20, 20, [90, 90, 90]).toColourspace('b-w').png().toBuffer();
    const g = await decodeToRgb(grey, SPEC, LIMITS);
    assert.deepEqual([g.info.channels, g.info.space], [1, 'b-w']);
    assert.equal(g.rgb.length, 3 * PIXELS);
    assert.deepEqual(pixel(g.rgb, 5, 5), [90, 90, 90]);

    const cmyk = await solid(20, 20, [200, 60, 30]).toColourspace('cmyk').jpeg().toBuffer();
    const k = await decodeToRgb(cmyk, SPEC, LIMITS);
    assert.deepEqual([k.info.channels, k.info.space], [4, 'cmyk']);
    assert.equal(k.rgb.length, 3 * PIXELS);
    // The round trip goes through sharp's default CMYK profile, so it is close, not exact.
    assertNear(pixel(k.rgb, 5, 5), [200, 60, 30], 30, 'cmyk');
  });

  it('uses the first frame of an animated image', async () => {
    const red = await solid(16, 12, [255, 0, 0]).png().toBuffer();
    const blue = await solid(16, 12, [0, 0, 255]).png().toBuffer();
    const animated = await sharp([red, blue], { join: { animated: true } }).webp({ lossless: true }).toBuffer();
    const { rgb, info } = await decodeToRgb(animated, SPEC, LIMITS);
    assert.deepEqual([info.width, info.height, info.pages], [16, 12, 2]);
    assert.deepEqual(pixel(rgb, 8, 8), [255, 0, 0]);
  });
});

describe('resampling kernels', () => {
  // Halves of grey 50 and 200, squashed from 40×20 to 16×16: each kernel leaves its own trace.
  const greys = async (resample: ImagePreprocessSpec['resample']) => {
    const bytes = await halves(40, 20, [50, 50, 50], [200, 200, 200]).png().toBuffer();
    return new Set((await decodeToRgb(bytes, { ...SPEC, resample }, LIMITS)).rgb);
  };

  it('nearest keeps only the source’s values', async () => {
    assert.deepEqual([...(await greys('nearest'))].sort((a, b) => a - b), [50, 200]);
  });

  it('bilinear blends across the edge without overshooting', async () => {
    const values = [...(await greys('bilinear'))];
    assert.ok(values.some((v) => v > 50 && v < 200), values.join());
    assert.ok(values.every((v) => v >= 50 && v <= 200), values.join());
  });

  it('bicubic overshoots at the edge, as cubic kernels (and PIL’s, which HF uses) do', async () => {
    const values = [...(await greys('bicubic'))];
    assert.ok(values.some((v) => v < 50) && values.some((v) => v > 200), values.join());
  });
});

describe('timings', () => {
  it('are durations within the call, not clock readings', async () => {
    const bytes = await noisy(64, 48).png().toBuffer();
    const before = performance.now();
    const { timingsMs } = await preprocessImage(bytes, SPEC, LIMITS);
    const elapsed = performance.now() - before;
    const { decode, queue, resize, normalise } = timingsMs;
    assert.ok([decode, queue, resize, normalise].every((t) => t >= 0), JSON.stringify(timingsMs));
    assert.ok(decode + queue + resize + normalise <= elapsed, `${JSON.stringify(timingsMs)} within ${elapsed} ms`);
  });
});

describe('argument and limit checks', () => {
  it('refuses a spec size, batch index or out buffer that cannot hold the image, naming the value', async () => {
    const bytes = await solid(20, 20, [1, 2, 3]).png().toBuffer();
    for (const size of [0, -3, 2.5]) {
      await assert.rejects(decodeToRgb(bytes, { ...SPEC, size }, LIMITS), { name: 'RangeError', message: `spec.size must be a positive integer, got ${size}` });
    }
    for (const index of [-1, 0.5]) {
      await assert.rejects(preprocessImage(bytes, SPEC, LIMITS, undefined, index), { name: 'RangeError', message: `index must be a non-negative integer, got ${index}` });
    }
    const short = new Float32Array(2 * 3 * PIXELS - 1);
    await assert.rejects(preprocessImage(bytes, SPEC, LIMITS, short, 1), {
      name: 'RangeError',
      message: `out holds ${short.length} floats; image 1 needs ${2 * 3 * PIXELS}`,
    });
  });

  it('accepts the smallest valid size, index and limits', async () => {
    const dot = await solid(1, 1, [10, 20, 30]).png().toBuffer();
    const { rgb } = await decodeToRgb(dot, { ...SPEC, size: 1 }, { maxPixels: 1, minSide: 1 });
    assert.deepEqual([...rgb], [10, 20, 30]);
  });

  it('refuses limits that are not positive integers before reading anything', async () => {
    const bytes = await solid(20, 20, [1, 2, 3]).png().toBuffer();
    for (const maxPixels of [0, -1, 1.5, 2 ** 53]) {
      await assert.rejects(inspectImage(bytes, { maxPixels, minSide: 8 }), { name: 'RangeError', message: `maxPixels must be a positive integer, got ${maxPixels}` });
    }
    for (const minSide of [0, -1, 1.5]) {
      await assert.rejects(inspectImage(bytes, { maxPixels: 100, minSide }), { name: 'RangeError', message: `minSide must be a positive integer, got ${minSide}` });
    }
  });

  it('accepts an image at exactly maxPixels and with its short side at exactly minSide', async () => {
    assert.equal((await inspectImage(pngHeaderOnly(2000, 2000), LIMITS)).width, 2000);
    const info = await inspectImage(await solid(40, 8, [0, 0, 0]).png().toBuffer(), LIMITS);
    assert.deepEqual([info.width, info.height], [40, 8]);
  });
});

describe('refusals', () => {
  it('refuses a truncated JPEG or PNG as undecodable (422), keeping the cause', async () => {
    for (const format of ['jpeg', 'png'] as const) {
      const whole = await noisy(128, 96).toFormat(format).toBuffer();
      const half = whole.subarray(0, whole.length >> 1);
      // The header survives the cut, so only the pixel decode can notice.
      assert.equal((await inspectImage(half, LIMITS)).format, format);
      const err = await assertRefused(preprocessImage(half, SPEC, LIMITS), 'GW_ERR_IMAGE_UNDECODABLE', 422);
      assert.ok(err.cause instanceof Error, format);
      // libvips' message, its first line only, in one sentence.
      assert.equal(err.detail, `The ${format} image is truncated or corrupt: ${err.cause.message.split('\n')[0]}.`);
      assert.ok(/[^.\s]\.$/.test(err.detail) && err.detail.length > 45, err.detail);
    }
  });

  it('refuses a corrupt header as undecodable (422)', async () => {
    const jpeg = await noisy(64, 48).jpeg().toBuffer();
    const err = await assertRefused(inspectImage(jpeg.subarray(0, 300), LIMITS), 'GW_ERR_IMAGE_UNDECODABLE', 422);
    assert.ok(err.cause instanceof Error);
    // libvips repeats its warnings over several lines: the detail keeps the first.
    const lines = err.cause.message.split('\n');
    assert.ok(lines.length > 1, err.cause.message);
    assert.equal(err.detail, `The image header is corrupt: ${lines[0]}.`);
  });

  it('refuses an empty upload as undecodable (422)', async () => {
    const err = await assertRefused(inspectImage(new Uint8Array(0), LIMITS), 'GW_ERR_IMAGE_UNDECODABLE', 422);
    assert.equal(err.detail, 'The upload is empty (0 bytes).');
    await assertRefused(preprocessImage(Buffer.alloc(0), SPEC, LIMITS), 'GW_ERR_IMAGE_UNDECODABLE', 422);
  });

  it('refuses text and SVG as unsupported types (415)', async () => {
    const text = await assertRefused(inspectImage(Buffer.from('name,calories\npizza,285\n'), LIMITS), 'GW_ERR_UPLOAD_UNSUPPORTED_TYPE', 415);
    assert.equal(text.detail, 'The upload is not in an image format the gateway can read.');
    assert.match(String((text.cause as Error).message), /unsupported image format/);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>');
    const refused = await assertRefused(preprocessImage(svg, SPEC, LIMITS), 'GW_ERR_UPLOAD_UNSUPPORTED_TYPE', 415);
    assert.equal(refused.detail, 'Images in svg format are not accepted; send one of jpeg, png, webp, gif, tiff, heif.');
  });

  it('refuses a 1x1 image as degenerate (422)', async () => {
    const dot = await solid(1, 1, [0, 0, 0]).png().toBuffer();
    const err = await assertRefused(preprocessImage(dot, SPEC, LIMITS), 'GW_ERR_IMAGE_DEGENERATE', 422);
    assert.equal(err.detail, 'The image is 1×1; both sides must be at least 8 pixels.');
    // The short side decides, however long the other is.
    await assertRefused(inspectImage(await solid(400, 7, [0, 0, 0]).png().toBuffer(), LIMITS), 'GW_ERR_IMAGE_DEGENERATE', 422);
  });

  it('refuses a 20000x20000 PNG from its header alone (422)', async () => {
    const bomb = pngHeaderOnly(20000, 20000);
    assert.ok(bomb.length < 100);
    const err = await assertRefused(inspectImage(bomb, LIMITS), 'GW_ERR_IMAGE_TOO_MANY_PIXELS', 422);
    assert.equal(err.detail, 'The PNG image is 20000×20000 (400000000 pixels); PNG images are accepted up to 4000000 pixels.');
    await assertRefused(preprocessImage(bomb, SPEC, LIMITS), 'GW_ERR_IMAGE_TOO_MANY_PIXELS', 422);
    // Just over the limit is refused too; the check is on width×height, not on either side.
    await assertRefused(inspectImage(pngHeaderOnly(2001, 2000), LIMITS), 'GW_ERR_IMAGE_TOO_MANY_PIXELS', 422);
  });
});

describe('configureSharp', () => {
  it('turns the libvips operation cache off and gives each image one libvips thread', () => {
    sharp.concurrency(2);
    configureSharp();
    const cache = sharp.cache();
    assert.deepEqual([cache.memory.max, cache.items.max, cache.files.max], [0, 0, 0]);
    assert.equal(sharp.concurrency(), 1);
  });
});

describe('pixel budgets per way of decoding', () => {
  // A streamed budget of 4 MP and a full-decode one of 3000 pixels: 60×50 fits, 60×51 does not.
  const BUDGETS = { maxPixels: 4_000_000, maxPixelsFullDecode: 3000, minSide: 8 };
  const image = (width: number, height: number) => solid(width, height, [30, 140, 200]);
  const wholeFormats = {
    AVIF: (w: number, h: number) => image(w, h).avif({ effort: 0 }).toBuffer(),
    GIF: (w: number, h: number) => image(w, h).gif().toBuffer(),
    'interlaced PNG': (w: number, h: number) => image(w, h).png({ progressive: true }).toBuffer(),
  };
  const streamedFormats = {
    JPEG: (w: number, h: number) => image(w, h).jpeg().toBuffer(),
    'progressive JPEG': (w: number, h: number) => image(w, h).jpeg({ progressive: true }).toBuffer(),
    PNG: (w: number, h: number) => image(w, h).png().toBuffer(),
    WebP: (w: number, h: number) => image(w, h).webp().toBuffer(),
    TIFF: (w: number, h: number) => image(w, h).tiff().toBuffer(),
    'TIFF rotated by EXIF': (w: number, h: number) => image(h, w).tiff().withMetadata({ orientation: 6 }).toBuffer(),
  };

  it('gives HEIF/AVIF, GIF and interlaced PNG the full-decode budget, refused from the header naming it', async () => {
    for (const [name, make] of Object.entries(wholeFormats)) {
      const fits = await decodeToRgb(await make(60, 50), SPEC, BUDGETS);
      assert.equal(fits.info.fullDecode, true, name);
      const err = await assertRefused(inspectImage(await make(60, 51), BUDGETS), 'GW_ERR_IMAGE_TOO_MANY_PIXELS', 422);
      assert.equal(err.detail, `The ${name} image is 60×51 (3060 pixels); ${name} images (decoded whole into memory) are accepted up to 3000 pixels.`);
    }
  });

  it('gives JPEG (progressive too), PNG, WebP and TIFF (rotated too) the large budget', async () => {
    for (const [name, make] of Object.entries(streamedFormats)) {
      const { info } = await decodeToRgb(await make(200, 100), SPEC, BUDGETS);
      assert.deepEqual([info.width, info.height, info.fullDecode], [200, 100, false], name);
    }
    const err = await assertRefused(inspectImage(await streamedFormats['TIFF rotated by EXIF'](2001, 2000), BUDGETS), 'GW_ERR_IMAGE_TOO_MANY_PIXELS', 422);
    assert.equal(err.detail, 'The TIFF image is 2001×2000 (4002000 pixels); TIFF images are accepted up to 4000000 pixels.');
  });

  it('never lets the full-decode budget exceed maxPixels, and defaults it to maxPixels', async () => {
    const avif = await wholeFormats.AVIF(60, 51);
    const err = await assertRefused(inspectImage(avif, { maxPixels: 3000, maxPixelsFullDecode: 1_000_000, minSide: 8 }), 'GW_ERR_IMAGE_TOO_MANY_PIXELS', 422);
    assert.match(err.detail, /are accepted up to 3000 pixels\.$/);
    assert.equal((await inspectImage(avif, { maxPixels: 3060, minSide: 8 })).fullDecode, true);
  });

  it('refuses a full-decode budget that is not a positive integer', async () => {
    const bytes = await image(20, 20).png().toBuffer();
    for (const maxPixelsFullDecode of [0, 2.5]) {
      await assert.rejects(inspectImage(bytes, { ...BUDGETS, maxPixelsFullDecode }), {
        name: 'RangeError',
        message: `maxPixelsFullDecode must be a positive integer, got ${maxPixelsFullDecode}`,
      });
    }
  });
});

describe('decodes behind a DecodeLimiter', () => {
  /** A limiter whose one slot and one queue place the test holds until `release()`. */
  async function fullLimiter() {
    const limiter = new DecodeLimiter({ concurrency: 1, maxQueued: 1 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const holders = [limiter.run(() => held), limiter.run(() => held)];
    assert.deepEqual([limiter.stats().inFlight, limiter.stats().queued], [1, 1]);
    return { limiter, release: async () => (release(), await Promise.all(holders)) };
  }

  it('counts each decode, and refuses with 503 GW_ERR_OVERLOADED and Retry-After when full', async () => {
    const bytes = await solid(40, 30, [1, 2, 3]).png().toBuffer();
    const { limiter, release } = await fullLimiter();
    const err = await assertRefused(preprocessImage(bytes, SPEC, { ...LIMITS, decodeLimiter: limiter }), 'GW_ERR_OVERLOADED', 503);
    assert.ok(err.retryAfterSeconds! >= 1, String(err.retryAfterSeconds));
    await release();
    const { timingsMs } = await preprocessImage(bytes, SPEC, { ...LIMITS, decodeLimiter: limiter });
    assert.ok(timingsMs.queue >= 0);
    assert.deepEqual([limiter.stats().completed, limiter.stats().shed], [3, 1]);
  });

  it('refuses what the header refuses without waiting for or taking a slot', async () => {
    const { limiter, release } = await fullLimiter();
    const limits = { ...LIMITS, decodeLimiter: limiter };
    await assertRefused(decodeToRgb(pngHeaderOnly(20000, 20000), SPEC, limits), 'GW_ERR_IMAGE_TOO_MANY_PIXELS', 422);
    await assertRefused(decodeToRgb(Buffer.from('not an image'), SPEC, limits), 'GW_ERR_UPLOAD_UNSUPPORTED_TYPE', 415);
    assert.equal(limiter.stats().shed, 0);
    await release();
  });

  it('frees the slot of an undecodable image, and drops a waiting decode whose signal aborts', async () => {
    const limiter = new DecodeLimiter({ concurrency: 1, maxQueued: 1 });
    const whole = await noisy(128, 96).png().toBuffer();
    await assertRefused(decodeToRgb(whole.subarray(0, whole.length >> 1), SPEC, { ...LIMITS, decodeLimiter: limiter }), 'GW_ERR_IMAGE_UNDECODABLE', 422);
    assert.deepEqual([limiter.stats().inFlight, limiter.stats().completed], [0, 1]);

    let release!: () => void;
    const holder = limiter.run(() => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    const waiting = decodeToRgb(whole, SPEC, { ...LIMITS, decodeLimiter: limiter }, { signal: controller.signal });
    // The header is read first; the decode then waits in the queue.
    while (limiter.stats().queued === 0) await new Promise((r) => setTimeout(r, 1));
    controller.abort(new Error('client closed'));
    await assert.rejects(waiting, { message: 'client closed' });
    release();
    await holder;
    assert.equal(limiter.stats().completed, 2);
  });
});
