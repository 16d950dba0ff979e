/**
 * @module validation/option-error
 * One 400 for every invalid option of a request, naming each problem.
 */
import type { z } from 'zod';
import { GatewayError } from '../errors/index.js';

export function optionsError(error: z.ZodError): GatewayError {
  const problems = error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') return `unknown option(s): ${i.keys.join(', ')}`;
    return `${i.path.join('.') || 'options'}: ${i.message}`;
  });
  return new GatewayError('GW_ERR_OPTION_INVALID', problems.join('; '));
}
