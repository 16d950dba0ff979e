/**
 * @module preprocess/zoom-crop
 * The `zoom_crop` preprocessing profile, a test-time view of the image unlike the model's own
 * resize: the resized S×S image zoomed to 150%, a random square crop of 100 px (or S when the
 * model's input is smaller), zero-padded (black) back to S×S around the centre. The crop's
 * position comes from a seed, so a request that names its seed is reproducible.
 */
import sharp from 'sharp';
import { mulberry32 } from '../random/mulberry32.js';

/** How much the resized image is enlarged before cropping. */
export const ZOOM_FACTOR = 1.5;
/** Side of the random crop, in pixels of the zoomed image, capped at the model's input size. */
export const CROP_SIDE = 100;

export interface ZoomCrop {
  /** S×S×3 RGB bytes, HWC, like the default profile's. */
  readonly rgb: Buffer;
  /** The crop in the zoomed image's pixels. */
  readonly crop: { readonly left: number; readonly top: number; readonly side: number };
}

/**
 * Applies the profile to `rgb`, the model-size image (size·size·3 bytes). The same seed always
 * gives the same crop.
 *
 * @example
 * const { rgb: view } = await zoomCrop(rgb, 64, 42);
 */
export async function zoomCrop(rgb: Uint8Array, size: number, seed: number): Promise<ZoomCrop> {
  const zoomed = Math.round(size * ZOOM_FACTOR);
  const side = Math.min(CROP_SIDE, size);
  const random = mulberry32(seed);
  const left = Math.floor(random() * (zoomed - side + 1));
  const top = Math.floor(random() * (zoomed - side + 1));
  const before = Math.floor((size - side) / 2);
  const after = size - side - before;
  const out = await sharp(rgb, { raw: { width: size, height: size, channels: 3 } })
    .resize(zoomed, zoomed, { fit: 'fill', kernel: 'cubic' })
    .extract({ left, top, width: side, height: side })
    .extend({ top: before, bottom: after, left: before, right: after, background: { r: 0, g: 0, b: 0 } })
    .raw()
    .toBuffer();
  return { rgb: out, crop: { left, top, side } };
}
