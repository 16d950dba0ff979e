/**
 * @module preprocess
 * Uploaded images to model input tensors: header checks, decode and resize behind a bounded
 * number of decodes in flight, normalisation.
 */
export { ACCEPTED_IMAGE_FORMATS, configureSharp, decodeToRgb, inspectImage, preprocessImage } from './decode-image.js';
export type {
  AcceptedImageFormat,
  DecodedImage,
  DecodeOptions,
  ImageInfo,
  ImageLimits,
  ImagePreprocessSpec,
  PreprocessedImage,
} from './decode-image.js';
export { DecodeLimiter } from './decode-limiter.js';
export type { DecodeLimiterOptions, DecodeLimiterStats } from './decode-limiter.js';
export { writePixelValues } from './pixel-values.js';
export type { Normalisation } from './pixel-values.js';
export { CROP_SIDE, ZOOM_FACTOR, zoomCrop } from './zoom-crop.js';
export type { ZoomCrop } from './zoom-crop.js';
