/**
 * @module preprocess/decode-image
 * An uploaded image to a model's `pixel_values`: read the header first (format, size, limits),
 * then one sharp pipeline (orient, flatten, sRGB, resize) whose RGB bytes match the training
 * resize in `model-tools/scenes/render-scene.ts` exactly, then normalise into a batch buffer.
 */
import sharp, { type FitEnum, type KernelEnum, type Metadata, type OutputInfo } from 'sharp';
import { GatewayError } from '../errors/index.js';
import type { ImageSpec } from '../triton/model-spec.js';
import { writePixelValues } from './pixel-values.js';

/** Encoded formats the gateway decodes, as sharp's `metadata().format` names them. */
export const ACCEPTED_IMAGE_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif'] as const;

/** One of {@link ACCEPTED_IMAGE_FORMATS}; `heif` covers AVIF. */
export type AcceptedImageFormat = (typeof ACCEPTED_IMAGE_FORMATS)[number];

/** Upload limits checked from the header, before any pixel is decoded. */
export interface ImageLimits {
  /** Largest width×height accepted; also sharp's `limitInputPixels` for the decode. */
  readonly maxPixels: number;
  /** Smallest width or height accepted, in pixels. */
  readonly minSide: number;
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
    /**
     * The sharp pipeline: decode, orient, flatten, colour conversion and resize. libvips streams
     * these through one pass, so they cannot be timed apart.
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
 * harmless. Thread counts are left at sharp's defaults (size the libuv pool with
 * `UV_THREADPOOL_SIZE` instead).
 *
 * @example
 * configureSharp();
 */
export function configureSharp(): void {
  // libvips caches operations keyed on their inputs so a repeated input is served from memory.
  // Uploads never repeat, so the cache only holds decoded images longer and grows the heap.
  sharp.cache(false);
}

/**
 * Reads the upload's header (never its pixels) and checks it against `limits`, so oversized or
 * unusable uploads are refused before any memory is spent on them.
 *
 * Throws {@link GatewayError}: `GW_ERR_UPLOAD_UNSUPPORTED_TYPE` (415) when the bytes are not an
 * image sharp recognises or not an accepted format (SVG is refused: it is a document, not a
 * photo), `GW_ERR_IMAGE_UNDECODABLE` (422) for an empty upload or a corrupt header,
 * `GW_ERR_IMAGE_TOO_MANY_PIXELS` (422) above `maxPixels`, and `GW_ERR_IMAGE_DEGENERATE` (422)
 * when a side is below `minSide`.
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
  if (width * height > limits.maxPixels) {
    throw new GatewayError(
      'GW_ERR_IMAGE_TOO_MANY_PIXELS',
      `The image is ${width}×${height} (${width * height} pixels); at most ${limits.maxPixels} pixels are accepted.`,
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
  };
}

/**
 * Checks the upload with {@link inspectImage}, then decodes and resizes it in one sharp
 * pipeline: EXIF orientation, alpha flattened onto white, sRGB (greyscale and CMYK become RGB),
 * and a size×size resize ignoring aspect ratio. For the same encoded image the bytes equal the
 * training resize (`resizeForModel` in model-tools/scenes), so the model sees what it learnt on.
 *
 * Throws what {@link inspectImage} throws, and `GW_ERR_IMAGE_UNDECODABLE` (422) when the pixel
 * data is truncated or corrupt.
 *
 * @example
 * const { rgb } = await decodeToRgb(upload, spec, limits); // spec.size² · 3 bytes
 */
export async function decodeToRgb(bytes: Uint8Array, spec: ImagePreprocessSpec, limits: ImageLimits): Promise<DecodedImage> {
  const size = spec.size;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`spec.size must be a positive integer, got ${size}`);

  const t0 = performance.now();
  const info = await inspectImage(bytes, limits);
  const t1 = performance.now();

  // Built outside the try: an exception while configuring is a bug here, not a bad upload.
  // The operations and their order are the training resize's (render-scene.ts); only input
  // safety options are added, which do not change the pixels of a valid image.
  const pipeline = sharp(bytes, {
    limitInputPixels: limits.maxPixels,
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

  let data: Buffer;
  let out: OutputInfo;
  try {
    ({ data, info: out } = await pipeline.toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw new GatewayError(
      'GW_ERR_IMAGE_UNDECODABLE',
      `The ${info.format} image is truncated or corrupt: ${firstLine(err)}.`,
      undefined,
      { cause: err },
    );
  }
  if (out.channels !== 3 || out.width !== size || out.height !== size || data.length !== size * size * 3) {
    throw new Error(`decode produced ${out.width}x${out.height}x${out.channels} (${data.length} bytes), expected ${size}x${size}x3`);
  }
  const t2 = performance.now();
  return { rgb: data, info, timingsMs: { decode: t1 - t0, resize: t2 - t1 } };
}

/**
 * An upload as the model's `pixel_values`: {@link decodeToRgb}, then rescaled, normalised with
 * the spec's mean and std and laid out channels first, written as image `index` of `out` so a
 * batch fills one buffer without copies. Without `out`, allocates one image (3·size·size).
 *
 * Throws what {@link decodeToRgb} throws; a RangeError when `out` is too short for `index`.
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
): Promise<PreprocessedImage> {
  const pixels = spec.size * spec.size;
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`index must be a non-negative integer, got ${index}`);
  // Checked before decoding: typed arrays drop out-of-range writes silently.
  if (out && out.length < (index + 1) * 3 * pixels) {
    throw new RangeError(`out holds ${out.length} floats; image ${index} needs ${(index + 1) * 3 * pixels}`);
  }

  const decoded = await decodeToRgb(bytes, spec, limits);
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
