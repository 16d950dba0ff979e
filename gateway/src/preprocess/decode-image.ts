/**
 * @module preprocess/decode-image
 * An uploaded image to a model's `pixel_values`: read the header first (format, size, the pixel
 * budget of the way libvips decodes it), then one sharp pipeline (orient, flatten, sRGB, resize),
 * run behind the decode limiter, whose RGB bytes match the training resize in
 * `model-tools/scenes/render-scene.ts` exactly, then normalise into a batch buffer.
 */
import sharp, { type FitEnum, type KernelEnum, type Metadata, type OutputInfo } from 'sharp';
import { GatewayError } from '../errors/index.js';
import type { ImageSpec } from '../triton/model-spec.js';
import type { DecodeLimiter } from './decode-limiter.js';
import { writePixelValues } from './pixel-values.js';

/** Encoded formats the gateway decodes, as sharp's `metadata().format` names them. */
export const ACCEPTED_IMAGE_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif'] as const;

/** One of {@link ACCEPTED_IMAGE_FORMATS}; `heif` covers AVIF. */
export type AcceptedImageFormat = (typeof ACCEPTED_IMAGE_FORMATS)[number];

/**
 * Upload limits checked from the header, before any pixel is decoded, and the limiter the
 * decode itself runs behind.
 *
 * The pixel budget depends on how libvips decodes the format, as measured with sharp 0.35 on
 * this pipeline (one decode, peak RSS above the process's and CPU time): JPEG shrinks on load,
 * WebP scales on load, PNG and TIFF stream line by line, EXIF rotation included, so a 40 MP image
 * in any of them costs 3–25 MB and 20–250 ms. HEIF/AVIF, GIF and interlaced PNG are decoded whole
 * into memory at full size: AVIF about 18 bytes per pixel and 30–50 ms per megapixel (a 1.3 KB
 * 6320×6320 AVIF: 709 MB, 1.1 s; 4000×3000: 221 MB, 0.35–0.6 s), GIF 4.4 and interlaced PNG
 * 3.1 bytes per pixel (177 and 125 MB at 40 MP).
 */
export interface ImageLimits {
  /**
   * Largest width×height of an image libvips streams or shrinks on load (JPEG, WebP, PNG, TIFF);
   * the budget of every format unless `maxPixelsFullDecode` says otherwise.
   */
  readonly maxPixels: number;
  /**
   * Largest width×height of an image libvips decodes whole into memory (HEIF/AVIF, GIF,
   * interlaced PNG); default `maxPixels`. Never more than `maxPixels` in effect.
   */
  readonly maxPixelsFullDecode?: number;
  /** Smallest width or height accepted, in pixels. */
  readonly minSide: number;
  /** Bounds the decodes in flight (503 when full); without one, decodes are not bounded. */
  readonly decodeLimiter?: DecodeLimiter;
}

/** Per-call options of {@link decodeToRgb} and {@link preprocessImage}. */
export interface DecodeOptions {
  /** Aborts a decode still waiting for a slot (rejecting with its reason); a running one ends. */
  readonly signal?: AbortSignal;
}

/** What the header says about an upload. Multi-page and animated images describe their first page. */
export interface ImageInfo {
  readonly format: AcceptedImageFormat;
  /** Width in pixels after EXIF orientation, as the image is displayed. */
  readonly width: number;
  /** Height in pixels after EXIF orientation. */
  readonly height: number;
  /** Bands in the file: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA or CMYK. */
  readonly channels: number;
  readonly hasAlpha: boolean;
  /** libvips interpretation, for example `srgb`, `cmyk`, `b-w`, `rgb16`. */
  readonly space: string;
  /** EXIF orientation 1–8; 1 when the file has none. */
  readonly orientation: number;
  /** Pages or frames in the file; only the first is used. */
  readonly pages: number;
  /**
   * Whether libvips decodes this image whole into memory at full size (HEIF/AVIF, GIF,
   * interlaced PNG), so that `maxPixelsFullDecode` is its budget, rather than streaming it.
   */
  readonly fullDecode: boolean;
}

/** The preprocessing parameters {@link preprocessImage} uses; a full {@link ImageSpec} fits. */
export type ImagePreprocessSpec = Pick<ImageSpec, 'size' | 'resizeMode' | 'resample' | 'rescaleFactor' | 'mean' | 'std'>;

/** An upload decoded and resized to the model's input, before normalisation. */
export interface DecodedImage {
  /** Interleaved RGB bytes, row-major (HWC), size·size·3. */
  readonly rgb: Buffer;
  readonly info: ImageInfo;
  readonly timingsMs: {
    /** Reading and checking the header ({@link inspectImage}). */
    readonly decode: number;
    /** Waiting for a decode slot (0 without a limiter, or with a slot free). */
    readonly queue: number;
    /**
     * The sharp pipeline once it has a slot: decode, orient, flatten, colour conversion and
     * resize. libvips streams these through one pass, so they cannot be timed apart.
     */
    readonly resize: number;
  };
}

/** An upload as the model's `pixel_values`, with what it was and where the time went. */
export interface PreprocessedImage {
  /** The batch buffer, with this image written at its index (CHW, FP32). */
  readonly pixelValues: Float32Array;
  readonly info: ImageInfo;
  readonly timingsMs: DecodedImage['timingsMs'] & { readonly normalise: number };
}

// The spec's names follow HF image processors; these are sharp's for the same operations.
const KERNELS: Record<ImageSpec['resample'], keyof KernelEnum> = {
  bicubic: 'cubic',
  bilinear: 'linear',
  nearest: 'nearest',
};
const FITS: Record<ImageSpec['resizeMode'], keyof FitEnum> = { squash: 'fill' };

/**
 * Applies process-wide sharp settings suited to a server. Call once at startup; repeating it is
 * harmless.
 *
 * @example
 * configureSharp();
 */
export function configureSharp(): void {
  // libvips caches operations keyed on their inputs so a repeated input is served from memory.
  // Uploads never repeat, so the cache only holds decoded images longer and grows the heap.
  sharp.cache(false);
  // One libvips thread per image. Each decode already runs on its own libuv pool thread, and the
  // decode limiter admits about one decode per core, so extra threads per image would only
  // oversubscribe the cores the event loop and the ONNX workers share. They would not make one
  // decode faster either: the decoders (libjpeg, libspng, libheif with aom, libnsgif) run on
  // one thread, and with 2 threads a 12 MP JPEG or AVIF took as long as with 1. (sharp's own
  // default is the core count, or 1 on glibc without jemalloc, as here: set either way.)
  sharp.concurrency(1);
}

/**
 * Whether libvips decodes the image whole into memory at full size, from its header: HEIF/AVIF
 * (libheif returns the whole frame), GIF (libnsgif renders the whole frame) and interlaced PNG
 * (Adam7 passes cover the whole image). Progressive JPEG keeps its DCT coefficients whole but
 * still decodes at the shrunk size (113 MB and 0.17 s at 40 MP), so it keeps the large budget.
 */
function decodesWhole(meta: Metadata): boolean {
  return meta.format === 'heif' || meta.format === 'gif' || (meta.format === 'png' && meta.isProgressive === true);
}

/** The format's name as users know it: AVIF and HEIC are both `heif` to libvips. */
function formatName(meta: Metadata): string {
  if (meta.format === 'heif') return meta.compression === 'av1' ? 'AVIF' : 'HEIF';
  if (meta.format === 'png' && meta.isProgressive) return 'interlaced PNG';
  return meta.format.toUpperCase();
}

/** The pixel budget of an image decoded as `fullDecode` says. */
function pixelBudget(limits: ImageLimits, fullDecode: boolean): number {
  return fullDecode ? Math.min(limits.maxPixels, limits.maxPixelsFullDecode ?? limits.maxPixels) : limits.maxPixels;
}

/**
 * Reads the upload's header (never its pixels) and checks it against `limits`, so oversized or
 * unusable uploads are refused before any memory is spent on them.
 *
 * Throws {@link GatewayError}: `GW_ERR_UPLOAD_UNSUPPORTED_TYPE` (415) when the bytes are not an
 * image sharp recognises or not an accepted format (SVG is refused: it is a document, not a
 * photo), `GW_ERR_IMAGE_UNDECODABLE` (422) for an empty upload or a corrupt header,
 * `GW_ERR_IMAGE_TOO_MANY_PIXELS` (422) above the format's budget (`maxPixelsFullDecode` for an
 * image decoded whole, `maxPixels` otherwise), and `GW_ERR_IMAGE_DEGENERATE` (422) when a side
 * is below `minSide`.
 *
 * @example
 * const info = await inspectImage(upload, { maxPixels: 40_000_000, minSide: 8 });
 * info.width; // as displayed, after EXIF orientation
 */
export async function inspectImage(bytes: Uint8Array, limits: ImageLimits): Promise<ImageInfo> {
  checkLimits(limits);
  if (bytes.byteLength === 0) throw new GatewayError('GW_ERR_IMAGE_UNDECODABLE', 'The upload is empty (0 bytes).');

  let meta: Metadata;
  try {
    // The pixel limit is off for the header read: sharp would refuse an oversized header with a
    // bare message, and checking it here lets the error name the dimensions.
    meta = await sharp(bytes, { limitInputPixels: false, pages: 1 }).metadata();
  } catch (err) {
    // sharp has no error codes, so its message is matched ("Input buffer contains unsupported
    // image format", src/common.cc); any other failure is a recognised format with a bad header.
    if (err instanceof Error && /unsupported image format/i.test(err.message)) {
      throw new GatewayError('GW_ERR_UPLOAD_UNSUPPORTED_TYPE', 'The upload is not in an image format the gateway can read.', undefined, { cause: err });
    }
    throw new GatewayError('GW_ERR_IMAGE_UNDECODABLE', `The image header is corrupt: ${firstLine(err)}.`, undefined, { cause: err });
  }

  const format = meta.format as string;
  if (!isAccepted(format)) {
    throw new GatewayError(
      'GW_ERR_UPLOAD_UNSUPPORTED_TYPE',
      `Images in ${format} format are not accepted; send one of ${ACCEPTED_IMAGE_FORMATS.join(', ')}.`,
    );
  }

  // With pages: 1, width and height are the first page's, which is what gets decoded; sharp
  // (0.34 on) always reports them after EXIF orientation in autoOrient.
  const { width, height } = meta.autoOrient;
  const fullDecode = decodesWhole(meta);
  const budget = pixelBudget(limits, fullDecode);
  if (width * height > budget) {
    const name = formatName(meta);
    const how = fullDecode ? ' (decoded whole into memory)' : '';
    throw new GatewayError(
      'GW_ERR_IMAGE_TOO_MANY_PIXELS',
      `The ${name} image is ${width}×${height} (${width * height} pixels); ${name} images${how} are accepted up to ${budget} pixels.`,
    );
  }
  if (Math.min(width, height) < limits.minSide) {
    throw new GatewayError(
      'GW_ERR_IMAGE_DEGENERATE',
      `The image is ${width}×${height}; both sides must be at least ${limits.minSide} pixels.`,
    );
  }

  return {
    format,
    width,
    height,
    channels: meta.channels,
    hasAlpha: meta.hasAlpha,
    space: meta.space,
    orientation: meta.orientation ?? 1,
    pages: meta.pages ?? 1,
    fullDecode,
  };
}

/**
 * Checks the upload with {@link inspectImage}, then decodes and resizes it in one sharp
 * pipeline: EXIF orientation, alpha flattened onto white, sRGB (greyscale and CMYK become RGB),
 * and a size×size resize ignoring aspect ratio. For the same encoded image the bytes equal the
 * training resize (`resizeForModel` in model-tools/scenes), so the model sees what it learnt on.
 *
 * The header is read at once; the decode waits for a slot of `limits.decodeLimiter`, if any.
 *
 * Throws what {@link inspectImage} throws, `GW_ERR_IMAGE_UNDECODABLE` (422) when the pixel data
 * is truncated or corrupt, `GW_ERR_OVERLOADED` (503, with Retry-After) when the limiter's queue
 * is full, and `options.signal`'s reason when it aborts while the decode waits.
 *
 * @example
 * const { rgb } = await decodeToRgb(upload, spec, limits); // spec.size² · 3 bytes
 */
export async function decodeToRgb(
  bytes: Uint8Array,
  spec: ImagePreprocessSpec,
  limits: ImageLimits,
  options: DecodeOptions = {},
): Promise<DecodedImage> {
  const size = spec.size;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`spec.size must be a positive integer, got ${size}`);

  const t0 = performance.now();
  const info = await inspectImage(bytes, limits);
  const t1 = performance.now();

  // Built outside the try: an exception while configuring is a bug here, not a bad upload.
  // The operations and their order are the training resize's (render-scene.ts); only input
  // safety options are added, which do not change the pixels of a valid image.
  const pipeline = sharp(bytes, {
    limitInputPixels: pixelBudget(limits, info.fullDecode),
    // 'error' rejects truncated and corrupt pixel data but tolerates the benign libjpeg/libpng
    // warnings ('warning' level) that many cameras' and editors' files raise.
    failOn: 'error',
    sequentialRead: true,
    autoOrient: true,
    pages: 1,
    page: 0,
  })
    .flatten({ background: '#ffffff' })
    .removeAlpha()
    .toColourspace('srgb')
    .resize(size, size, { fit: FITS[spec.resizeMode], kernel: KERNELS[spec.resample] })
    .raw();

  let queue = 0;
  const decode = async (): Promise<{ data: Buffer; info: OutputInfo }> => {
    queue = performance.now() - t1;
    try {
      return await pipeline.toBuffer({ resolveWithObject: true });
    } catch (err) {
      throw new GatewayError(
        'GW_ERR_IMAGE_UNDECODABLE',
        `The ${info.format} image is truncated or corrupt: ${firstLine(err)}.`,
        undefined,
        { cause: err },
      );
    }
  };
  const { data, info: out } = limits.decodeLimiter ? await limits.decodeLimiter.run(decode, options.signal) : await decode();
  if (out.channels !== 3 || out.width !== size || out.height !== size || data.length !== size * size * 3) {
    throw new Error(`decode produced ${out.width}x${out.height}x${out.channels} (${data.length} bytes), expected ${size}x${size}x3`);
  }
  const t2 = performance.now();
  return { rgb: data, info, timingsMs: { decode: t1 - t0, queue, resize: t2 - t1 - queue } };
}

/**
 * An upload as the model's `pixel_values`: {@link decodeToRgb}, then rescaled, normalised with
 * the spec's mean and std and laid out channels first, written as image `index` of `out` so a
 * batch fills one buffer without copies. Without `out`, allocates one image (3·size·size).
 *
 * Throws what {@link decodeToRgb} throws; a RangeError when `out` is too short for `index`.
 * `options` are {@link decodeToRgb}'s.
 *
 * @example
 * const batch = new Float32Array(uploads.length * 3 * spec.size ** 2);
 * await Promise.all(uploads.map((u, i) => preprocessImage(u, spec, limits, batch, i)));
 */
export async function preprocessImage(
  bytes: Uint8Array,
  spec: ImagePreprocessSpec,
  limits: ImageLimits,
  out?: Float32Array,
  index = 0,
  options: DecodeOptions = {},
): Promise<PreprocessedImage> {
  const pixels = spec.size * spec.size;
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`index must be a non-negative integer, got ${index}`);
  // Checked before decoding: typed arrays drop out-of-range writes silently.
  if (out && out.length < (index + 1) * 3 * pixels) {
    throw new RangeError(`out holds ${out.length} floats; image ${index} needs ${(index + 1) * 3 * pixels}`);
  }

  const decoded = await decodeToRgb(bytes, spec, limits, options);
  const t0 = performance.now();
  const pixelValues = writePixelValues(decoded.rgb, pixels, spec, out ?? new Float32Array(3 * pixels), index);
  const normalise = performance.now() - t0;
  return { pixelValues, info: decoded.info, timingsMs: { ...decoded.timingsMs, normalise } };
}

function checkLimits(limits: ImageLimits): void {
  // sharp needs an integral pixel limit, and 0 would mean "no limit" to it.
  if (!Number.isSafeInteger(limits.maxPixels) || limits.maxPixels < 1) {
    throw new RangeError(`maxPixels must be a positive integer, got ${limits.maxPixels}`);
  }
  const full = limits.maxPixelsFullDecode;
  if (full !== undefined && (!Number.isSafeInteger(full) || full < 1)) {
    throw new RangeError(`maxPixelsFullDecode must be a positive integer, got ${full}`);
  }
  if (!Number.isInteger(limits.minSide) || limits.minSide < 1) {
    throw new RangeError(`minSide must be a positive integer, got ${limits.minSide}`);
  }
}

function isAccepted(format: string): format is AcceptedImageFormat {
  return (ACCEPTED_IMAGE_FORMATS as readonly string[]).includes(format);
}

// libvips errors repeat each warning and can span many lines; the first says what went wrong.
function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split('\n')[0] ?? '').replace(/[.\s]+$/, '') || 'unknown error';
}
