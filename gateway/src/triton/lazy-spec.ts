/**
 * @module triton/lazy-spec
 * Specs of optional models (the food classifier and the food_caption ensemble), read through
 * ModelConfig on first use rather than at start-up: captioning serves without them, and a model
 * Triton loads later is picked up by the next request. A failed read is not cached.
 */
import { GatewayError } from '../errors/index.js';
import { RETRY_AFTER_SECONDS } from './status-map.js';

/** Memoises `load`; while it fails, every call retries and answers 503 GW_ERR_MODEL_UNAVAILABLE. */
export function lazySpec<T>(model: string, load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= load().catch((err: unknown) => {
      pending = undefined;
      const reason = err instanceof Error ? err.message : String(err);
      throw new GatewayError('GW_ERR_MODEL_UNAVAILABLE', `model '${model}' is not available: ${reason}`, RETRY_AFTER_SECONDS, { cause: err });
    }));
}
