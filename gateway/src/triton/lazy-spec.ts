/**
 * @module triton/lazy-spec
 * Specs of optional models (the food classifier and the food_caption ensemble), read through
 * ModelConfig on first use rather than at start-up: captioning serves without them, and a model
 * Triton loads later is picked up by the next request. A failed read is not cached.
 */
import { GatewayError } from '../errors/index.js';
import { RETRY_AFTER_SECONDS } from './status-map.js';

/**
 * The failures that say nothing about the model: the model server down, or the read out of time.
 * They keep their own answer (503 GW_ERR_TRITON_UNAVAILABLE, 504) rather than calling a loaded
 * model unavailable.
 */
const TRANSIENT: ReadonlySet<string> = new Set(['GW_ERR_TRITON_UNAVAILABLE', 'GW_ERR_TRITON_DEADLINE', 'GW_ERR_DEADLINE']);

/**
 * Memoises `load`; while it fails, every call retries. A model the server does not have, or
 * whose config the gateway cannot use, answers 503 GW_ERR_MODEL_UNAVAILABLE; transient failures
 * pass through as they are.
 */
export function lazySpec<T>(model: string, load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= load().catch((err: unknown) => {
      pending = undefined;
      if (err instanceof GatewayError && TRANSIENT.has(err.code)) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      throw new GatewayError('GW_ERR_MODEL_UNAVAILABLE', `model '${model}' is not available: ${reason}`, RETRY_AFTER_SECONDS, { cause: err });
    }));
}
