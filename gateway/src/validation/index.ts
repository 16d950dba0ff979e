/**
 * @module validation
 * Request options, validated with zod.
 */
export { captionOptionsSchema, parseCaptionOptions } from './caption-options.js';
export type { CaptionOptions, OptionLimits } from './caption-options.js';
export { classifyOptionsSchema, parseClassifyOptions } from './classify-options.js';
export type { ClassifyOptions } from './classify-options.js';
