/**
 * @module scenes/render-scene
 * Rasterises a scene's SVG with sharp, and the one resize step the models' preprocessing uses,
 * shared so training data and serving see identical pixels.
 */
import sharp, { type Sharp } from 'sharp';
import type { Scene } from './generate-scene.js';

/** Encoded image formats {@link renderScene} writes. */
export type SceneImageFormat = 'png' | 'jpeg';

/** JPEG quality for rendered scenes: typical of photos people upload. */
export const SCENE_JPEG_QUALITY = 85;

/** Encoder settings for {@link renderScene}. */
export interface RenderOptions {
  /**
   * zlib level for PNG, 0–9 (default 6). Pixels are the same at every level; the dataset writer
   * uses 0 because it decodes the PNG straight away.
   */
  readonly pngCompressionLevel?: number;
}

/**
 * The scene as an encoded image at its own width×height, RGB without alpha. Scenes are opaque
 * (the wall and table cover every pixel; a test checks it), so PNG simply drops the alpha
 * channel, and JPEG flattens onto white as any upload would be.
 *
 * @example
 * const png = await renderScene(generateScene(1), 'png');
 */
export async function renderScene(scene: Scene, format: SceneImageFormat, options: RenderOptions = {}): Promise<Buffer> {
  const image = sharp(Buffer.from(scene.svg));
  return format === 'png'
    ? image.removeAlpha().png({ compressionLevel: options.pngCompressionLevel ?? 6 }).toBuffer()
    : image.flatten({ background: '#ffffff' }).jpeg({ quality: SCENE_JPEG_QUALITY }).toBuffer();
}

/**
 * The resize of {@link resizeForModel} as a sharp pipeline, for callers that encode its output
 * (the dataset writer saves PNGs) instead of reading raw bytes; the pixels are the same.
 *
 * It takes encoded images only. libvips resizes an in-memory raw image through a different path
 * that differs by ±1 in a few values, so raw input would not match what the gateway computes
 * from an upload.
 *
 * @example
 * await modelResizePipeline(png, 64).png().toFile('scene.png');
 */
export function modelResizePipeline(input: Buffer, size: number): Sharp {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  return sharp(input)
    .flatten({ background: '#ffffff' })
    .removeAlpha()
    .toColourspace('srgb')
    .resize(size, size, { fit: 'fill', kernel: 'cubic' });
}

/**
 * The model preprocessing resize: flatten onto white, drop alpha, convert to sRGB, and resize
 * to size×size ignoring aspect ratio with a cubic kernel. `input` is an encoded image (PNG,
 * JPEG, …); returns raw RGB bytes, row-major (size·size·3).
 *
 * @example
 * const rgb = await resizeForModel(await renderScene(scene, 'png'), 64); // 64*64*3 bytes
 */
export async function resizeForModel(input: Buffer, size: number): Promise<Buffer> {
  const { data, info } = await modelResizePipeline(input, size).raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || data.length !== size * size * 3) {
    throw new Error(`resize produced ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  }
  return data;
}
