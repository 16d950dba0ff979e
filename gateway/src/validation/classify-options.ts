/**
 * @module validation/classify-options
 * Options of POST /classify, as form fields or query parameters. Unknown options are rejected,
 * and so is a `seed` without the `zoom_crop` profile it would seed: nothing sent is ignored.
 */
import { z } from 'zod';
import { optionsError } from './option-error.js';

export const classifyOptionsSchema = z
  .object({
    top_k: z.coerce.number().int().min(1).max(1000).default(2),
    embedding: z.enum(['summary', 'full']).default('summary'),
    profile: z.enum(['resize', 'zoom_crop']).default('resize'),
    seed: z.coerce.number().int().min(0).max(0xffffffff).optional(),
  })
  .strict()
  .refine((o) => o.seed === undefined || o.profile === 'zoom_crop', { message: 'seed applies only to profile=zoom_crop', path: ['seed'] });

export type ClassifyOptions = z.infer<typeof classifyOptionsSchema>;

/** Validates merged query and form values; throws 400 GW_ERR_OPTION_INVALID naming each problem. */
export function parseClassifyOptions(values: Record<string, unknown>): ClassifyOptions {
  const result = classifyOptionsSchema.safeParse(values);
  if (result.success) return result.data;
  throw optionsError(result.error);
}
