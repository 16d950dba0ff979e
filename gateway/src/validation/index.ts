/**
 * @module validation
 * Request options, validated with zod.
 */
export { captionOptionsSchema, parseCaptionOptions } from './caption-options.js';
export type { CaptionOptions, OptionLimits } from './caption-options.js';
