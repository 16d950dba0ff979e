/**
 * @module scenes/prng
 * The sampling helpers the scene generator draws from, over the project's seeded mulberry32.
 */
// One mulberry32 for the whole project (the gateway's zoom_crop profile draws from it too).
import { mulberry32 } from '../../gateway/src/random/mulberry32.js';

export { mulberry32 };

/** A deterministic source of random numbers; every method advances the same stream. */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** A float in [min, max). */
  range(min: number, max: number): number;
  /** An integer in [min, max], both ends included. */
  int(min: number, max: number): number;
  /** A float in [min, max) whose logarithm is uniform, so each octave is equally likely. */
  logUniform(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One element of a non-empty list, uniformly. */
  pick<T>(items: readonly T[]): T;
}

/**
 * An {@link Rng} over mulberry32 seeded with `seed` (taken modulo 2^32).
 *
 * @example
 * const rng = createRng(7);
 * rng.int(1, 3); // 1, 2 or 3, the same one every run
 */
export function createRng(seed: number): Rng {
  const next = mulberry32(seed);
  const range = (min: number, max: number) => min + (max - min) * next();
  return {
    next,
    range,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    logUniform: (min, max) => Math.exp(range(Math.log(min), Math.log(max))),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[Math.floor(next() * items.length)] as T;
    },
  };
}
