/**
 * @module scenes/drawings/drawing
 * The contract every cartoon drawing meets: a class, one caption phrase, and a function that
 * draws it at a centre, size and rotation with colours varied by the scene's RNG.
 */
import type { Rng } from '../prng.js';
import { num } from '../svg-kit.js';

/** Where and how big to draw one item, in image pixels. */
export interface DrawingParams {
  /** Centre of the item's square box. */
  readonly cx: number;
  readonly cy: number;
  /** Side of the item's square box: the drawing fills it edge to edge. */
  readonly size: number;
  /** Clockwise rotation about the centre. */
  readonly rotationDeg: number;
  /** Source of the drawing's colour and shape variation. */
  readonly rng: Rng;
  /** Prefix for any `id` the drawing defines (clip paths), unique within the scene. */
  readonly idPrefix: string;
}

/** One recognisable cartoon of a food, with the phrase a caption uses for it. */
export interface Drawing {
  /** `<class>/<name>`, stable: datasets record it. */
  readonly id: string;
  /** Index into FOOD_CLASSES. */
  readonly classIndex: number;
  /** The caption phrase: lower-case words, no punctuation, e.g. "a loaf of bread". */
  readonly phrase: string;
  /** SVG elements for this item. */
  readonly draw: (params: DrawingParams) => string;
}

/**
 * Draws in a 100-unit frame: x and y run from -50 to 50 with y down, the origin is the box
 * centre, and the food should rest on y ≈ 45 so it sits on the table.
 */
export type DrawingBody = (rng: Rng, idPrefix: string) => string;

/**
 * A {@link Drawing} from a body written in the 100-unit frame; placement, scale and rotation
 * are applied here once so bodies only describe the food. `shift` moves a body that does not
 * fill its frame (a banana, a fish) so it is centred and rests on the frame's bottom like the rest.
 *
 * @example
 * defineDrawing('egg/fried', 3, 'a fried egg', (rng) => `<circle r="40" fill="white"/>`);
 */
export function defineDrawing(
  id: string,
  classIndex: number,
  phrase: string,
  body: DrawingBody,
  shift: readonly [dx: number, dy: number] = [0, 0],
): Drawing {
  const inner = shift[0] === 0 && shift[1] === 0 ? '' : ` translate(${shift[0]} ${shift[1]})`;
  return {
    id,
    classIndex,
    phrase,
    draw: ({ cx, cy, size, rotationDeg, rng, idPrefix }) =>
      `<g transform="translate(${num(cx)} ${num(cy)}) rotate(${num(rotationDeg)}) scale(${num(size / 100, 5)})${inner}">` +
      `${body(rng, idPrefix)}</g>`,
  };
}
