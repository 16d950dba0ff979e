/**
 * @module scenes/svg-kit
 * Small SVG-writing helpers shared by the drawings and the scene: number formatting, colours
 * jittered in HSL, outlines and smooth blobs.
 *
 * Convention for every SVG written here: translucency uses `fill-opacity`/`stroke-opacity`,
 * never `opacity`; librsvg renders an element with `opacity` into its own offscreen layer, which
 * made rasterising a scene about twice as slow.
 */
import type { Rng } from './prng.js';

/** A colour as hue (degrees), saturation and lightness (percent). */
export type Hsl = readonly [h: number, s: number, l: number];

/** A fill colour with a darker and a lighter shade of the same hue, as `#rrggbb`. */
export interface Tone {
  readonly fill: string;
  readonly dark: string;
  readonly light: string;
}

/** The cartoon outline colour: a warm near-black reads better than pure black on food. */
export const OUTLINE_COLOUR = '#3a2a22';

/**
 * Outline attributes for a shape drawn in the 100-unit drawing frame.
 *
 * @example
 * `<circle r="10" fill="red" ${outline()}/>`
 */
export function outline(width = 2.5): string {
  return `stroke="${OUTLINE_COLOUR}" stroke-width="${width}" stroke-linejoin="round" stroke-linecap="round"`;
}

/**
 * A number rounded to `digits` decimals, so SVG text stays short and identical across runs.
 *
 * @example
 * num(1 / 3); // '0.33'
 */
export function num(value: number, digits = 2): string {
  const scale = 10 ** digits;
  const rounded = Math.round(value * scale) / scale;
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/**
 * An HSL colour as `#rrggbb`; hex keeps us independent of the rasteriser's CSS colour support.
 *
 * @example
 * hslToHex([0, 100, 50]); // '#ff0000'
 */
export function hslToHex([h, s, l]: Hsl): string {
  const hue = ((h % 360) + 360) % 360;
  const sat = clamp(s, 0, 100) / 100;
  const light = clamp(l, 0, 100) / 100;
  const a = sat * Math.min(light, 1 - light);
  const channel = (n: number) => {
    const k = (n + hue / 30) % 12;
    const value = light - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(value * 255)
      .toString(16)
      .padStart(2, '0');
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}

/**
 * `base` moved by up to ±dh degrees of hue and ±ds/±dl percent of saturation/lightness.
 *
 * @example
 * jitter(rng, [30, 60, 50]); // a brown close to hsl(30 60% 50%)
 */
export function jitter(rng: Rng, base: Hsl, dh = 6, ds = 8, dl = 6): Hsl {
  return [base[0] + rng.range(-dh, dh), base[1] + rng.range(-ds, ds), base[2] + rng.range(-dl, dl)];
}

/**
 * A jittered colour with shades 16 points darker and lighter, for cartoon shading.
 *
 * @example
 * const crust = tone(rng, [32, 65, 48]);
 * `<path fill="${crust.fill}" stroke="${crust.dark}"/>`
 */
export function tone(rng: Rng, base: Hsl, dh = 6, ds = 8, dl = 6): Tone {
  const [h, s, l] = jitter(rng, base, dh, ds, dl);
  return {
    fill: hslToHex([h, s, l]),
    dark: hslToHex([h, s, l - 16]),
    light: hslToHex([h, s, l + 16]),
  };
}

/**
 * A smooth closed path through the midpoints of a polygon (quadratic Béziers with the
 * vertices as control points), used for blobby shapes such as egg whites and florets.
 *
 * @example
 * blobPath(wobblyCircle(rng, 0, 0, 40, 9, 0.1));
 */
export function blobPath(points: ReadonlyArray<readonly [number, number]>): string {
  const n = points.length;
  const mid = (i: number) => {
    const [ax, ay] = points[i % n]!;
    const [bx, by] = points[(i + 1) % n]!;
    return `${num((ax + bx) / 2)} ${num((ay + by) / 2)}`;
  };
  let d = `M ${mid(n - 1)}`;
  for (let i = 0; i < n; i++) {
    const [x, y] = points[i]!;
    d += ` Q ${num(x)} ${num(y)} ${mid(i)}`;
  }
  return `${d} Z`;
}

/**
 * `count` points on an ellipse whose radius wobbles by up to ±`wobble` (a fraction).
 *
 * @example
 * wobblyEllipse(rng, 0, 0, 40, 32, 10, 0.12);
 */
export function wobblyEllipse(
  rng: Rng,
  cx: number,
  cy: number,
  rx: number,
  ry: number,
  count: number,
  wobble: number,
): Array<[number, number]> {
  const start = rng.range(0, Math.PI * 2);
  const points: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    const angle = start + (i / count) * Math.PI * 2;
    const k = 1 + rng.range(-wobble, wobble);
    points.push([cx + Math.cos(angle) * rx * k, cy + Math.sin(angle) * ry * k]);
  }
  return points;
}

/**
 * A thick stroked path with an outline: the path drawn wide in the outline colour, then
 * narrower in `colour`. Cheaper to write than an offset outline for bones, legs and handles.
 *
 * @example
 * outlinedStroke('M 0 0 L 20 -20', '#f4efe2', 8);
 */
export function outlinedStroke(d: string, colour: string, width: number, outlineWidth = 2.5): string {
  return (
    `<path d="${d}" fill="none" stroke="${OUTLINE_COLOUR}" stroke-width="${num(width + outlineWidth * 2)}" stroke-linecap="round" stroke-linejoin="round"/>` +
    `<path d="${d}" fill="none" stroke="${colour}" stroke-width="${num(width)}" stroke-linecap="round" stroke-linejoin="round"/>`
  );
}
