/**
 * @module random/mulberry32
 * mulberry32 (Tommy Ettinger), a tiny seeded PRNG: 32 bits of state, full 2^32 period, a handful
 * of integer ops per draw. Written here rather than imported so a seed means the same numbers on
 * every machine and version forever: the scene generator and the zoom_crop profile rely on it.
 */

/**
 * A generator of floats in [0, 1) seeded with `seed` (taken modulo 2^32).
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
