/**
 * @module scenes/prng
 * mulberry32, a tiny seeded PRNG, and the sampling helpers the scene generator draws from.
 * Written here rather than imported so a seed means the same scene on every machine and version.
 */

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
 * The mulberry32 generator: 32 bits of state, full 2^32 period, good enough statistics for
 * picture generation, and a handful of integer ops per draw.
 *
 * @example
 * const next = mulberry32(42);
 * next(); // 0.6011037519201636, on every machine
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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
