/**
 * @module validation/caption-options
 * Options of POST /caption, as form fields or query parameters, with Hugging Face's names.
 * Unknown options are rejected, so a misspelt option never silently does nothing.
 */
import { z } from 'zod';
import { optionsError } from './option-error.js';

export interface OptionLimits {
  readonly maxNewTokens: number;
  readonly maxBeams: number;
}

/** The schema for given limits (from the configuration). */
export function captionOptionsSchema(limits: OptionLimits) {
  return z
    .object({
      prompt: z.string().max(300, 'at most 300 characters').optional(),
      max_new_tokens: z.coerce.number().int().min(1).max(limits.maxNewTokens).optional(),
      min_new_tokens: z.coerce.number().int().min(0).max(limits.maxNewTokens).default(0),
      num_beams: z.coerce.number().int().min(1).max(limits.maxBeams).default(1),
      repetition_penalty: z.coerce.number().min(1).max(10).default(1),
      food: z
        .enum(['true', 'false', '1', '0'])
        .transform((v) => v === 'true' || v === '1')
        .default(false),
    })
    .strict()
    .refine((o) => o.max_new_tokens === undefined || o.min_new_tokens <= o.max_new_tokens, {
      message: 'min_new_tokens must not exceed max_new_tokens',
      path: ['min_new_tokens'],
    })
    // With food the prompt is the food label's; a second prompt would be silently dropped.
    .refine((o) => !(o.food && o.prompt !== undefined), { message: 'food=true writes its own prompt; send one or the other', path: ['prompt'] });
}

export type CaptionOptions = z.infer<ReturnType<typeof captionOptionsSchema>>;

// One schema per limits object (the configuration's, made once): building a zod schema costs far
// more than parsing with it, and was 3 % of the gateway's CPU when done per request.
const schemas = new WeakMap<OptionLimits, ReturnType<typeof captionOptionsSchema>>();

/** Validates merged query and form values; throws 400 GW_ERR_OPTION_INVALID naming each problem. */
export function parseCaptionOptions(values: Record<string, unknown>, limits: OptionLimits): CaptionOptions {
  let schema = schemas.get(limits);
  if (!schema) schemas.set(limits, (schema = captionOptionsSchema(limits)));
  const result = schema.safeParse(values);
  if (result.success) return result.data;
  throw optionsError(result.error);
}
