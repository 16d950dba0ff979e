/**
 * @module scenes/generate-scene
 * One synthetic scene from a seed: one to three cartoon foods left to right on a table, as SVG,
 * with its caption and its Food-11 label (the class of the largest item).
 */
import { composeCaption } from './caption.js';
import { DRAWINGS_BY_CLASS, type Drawing } from './drawings/index.js';
import { FOOD_CLASSES, type FoodClassName } from './food-classes.js';
import { createRng } from './prng.js';
import { SURFACE_KINDS, type SurfaceKind, drawBackdrop, drawLighting } from './surfaces.js';
import { num } from './svg-kit.js';

/** Narrowest and widest image, in pixels; sampled log-uniformly so small images are common. */
export const SCENE_WIDTH_RANGE = [64, 2000] as const;
/** Width over height, also log-uniform; height = width / aspect, so heights run from 36 to 3333. */
export const SCENE_ASPECT_RANGE = [0.6, 1.8] as const;
/** The largest item is at least this many times the size of every other, so the label is plain to see. */
export const LARGEST_ITEM_MARGIN = 1.4;

/** One food in a scene. Coordinates are image pixels; `size` is the side of its square box. */
export interface SceneItem {
  readonly classIndex: number;
  readonly className: FoodClassName;
  /** Drawing id, e.g. "bread/loaf". */
  readonly drawing: string;
  readonly phrase: string;
  /** Centre of the item's box. */
  readonly x: number;
  readonly y: number;
  readonly size: number;
  readonly rotationDeg: number;
}

/** A generated scene; everything in it follows from `seed` and the options. */
export interface Scene {
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  readonly svg: string;
  /** Left to right (increasing `x`), the order the caption names them in. */
  readonly items: readonly SceneItem[];
  readonly caption: string;
  /** Class name of the largest item. */
  readonly label: FoodClassName;
  readonly labelIndex: number;
  readonly surface: SurfaceKind;
}

/** Overrides for tests and previews; each replaces the sampled value without shifting the rest. */
export interface SceneOptions {
  readonly width?: number;
  readonly height?: number;
  readonly itemCount?: 1 | 2 | 3;
  readonly surface?: SurfaceKind;
}

/**
 * The scene for `seed`: the same seed and options always give the same SVG, caption and label.
 *
 * Layout: the image is a wall above a table whose top edge lies 35–55% down. Items get square
 * boxes placed left to right without horizontal overlap, each resting on the table with some
 * vertical jitter and up to ±10° of rotation. One item (at a random position) is the largest,
 * 1.4–1.8× every other, so the label is unambiguous.
 *
 * @example
 * const scene = generateScene(123);
 * scene.caption; // e.g. 'a bowl of rice next to a fish on a marble table'
 */
export function generateScene(seed: number, options: SceneOptions = {}): Scene {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const rng = createRng(seed);
  // Sampled values are drawn even when an option replaces them, so an override never shifts
  // the stream before it: a scene resized or given another surface keeps its items and wording.
  const sampledWidth = Math.round(rng.logUniform(SCENE_WIDTH_RANGE[0], SCENE_WIDTH_RANGE[1]));
  const aspect = rng.logUniform(SCENE_ASPECT_RANGE[0], SCENE_ASPECT_RANGE[1]);
  const width = options.width ?? sampledWidth;
  const height = options.height ?? Math.max(1, Math.round(sampledWidth / aspect));
  const sampledCount = rng.int(1, 3);
  const itemCount = options.itemCount ?? sampledCount;
  const sampledSurface = rng.pick(SURFACE_KINDS);
  const surface = options.surface ?? sampledSurface;
  const tableTop = height * rng.range(0.35, 0.55);

  const drawings: Drawing[] = [];
  for (let i = 0; i < itemCount; i++) {
    // No drawing twice in a scene ("some fries next to some fries" reads badly); every class
    // has at least three drawings, so one is always left.
    const unused = DRAWINGS_BY_CLASS[rng.int(0, FOOD_CLASSES.length - 1)]!.filter((d) => !drawings.includes(d));
    drawings.push(rng.pick(unused));
  }
  const largest = rng.int(0, itemCount - 1);
  const relative = drawings.map((_, i) => (i === largest ? 1 : 1 / rng.range(LARGEST_ITEM_MARGIN, 1.8)));

  // Boxes fill at most 90% of the width (the rest is gaps) and 80% of the height.
  const relativeSum = relative.reduce((a, b) => a + b, 0);
  const unit = Math.min((width * 0.9) / relativeSum, height * 0.8) * rng.range(0.75, 1);
  const sizes = relative.map((r) => r * unit);
  const gapWeights = Array.from({ length: itemCount + 1 }, () => rng.range(0.5, 1.5));
  const gapScale = (width - sizes.reduce((a, b) => a + b, 0)) / gapWeights.reduce((a, b) => a + b, 0);

  const items: SceneItem[] = [];
  const drawn: string[] = [];
  let left = 0;
  for (const [i, drawing] of drawings.entries()) {
    const size = round2(sizes[i]!);
    left += gapWeights[i]! * gapScale;
    const x = round2(left + size / 2);
    left += size;
    // Rest the box's bottom on the table, between just below its edge and the image bottom.
    const lowest = height * 0.97 - size / 2;
    const highest = Math.min(lowest, tableTop + size * 0.12 - size / 2);
    const y = round2(Math.max(height * 0.02 + size / 2, rng.range(highest, lowest)));
    const rotationDeg = round2(rng.range(-10, 10));
    items.push({
      classIndex: drawing.classIndex,
      className: FOOD_CLASSES[drawing.classIndex]!,
      drawing: drawing.id,
      phrase: drawing.phrase,
      x,
      y,
      size,
      rotationDeg,
    });
    drawn.push(
      `<ellipse cx="${num(x)}" cy="${num(y + size * 0.45)}" rx="${num(size * 0.44)}" ry="${num(size * 0.07)}" fill="#000000" fill-opacity="0.16"/>` +
        drawing.draw({ cx: x, cy: y, size, rotationDeg, rng, idPrefix: `i${i}` }),
    );
  }

  const backdrop = drawBackdrop(rng, surface, width, height, tableTop);
  const lighting = drawLighting(rng, width, height);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `${backdrop}${drawn.join('')}${lighting}</svg>`;

  const labelItem = items[largest]!;
  return {
    seed,
    width,
    height,
    svg,
    items,
    caption: composeCaption(
      items.map((item) => item.phrase),
      surface,
    ),
    label: labelItem.className,
    labelIndex: labelItem.classIndex,
    surface,
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
