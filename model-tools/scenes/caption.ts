/**
 * @module scenes/caption
 * The caption grammar: one template per item count, so every scene has exactly one caption and
 * exact match is a fair metric. Also the tokenizer and the closed vocabulary it produces.
 *
 * Text convention: captions are plain lower-case English, "a fish, a crab and an apple on a
 * blue table". The comma is its own token; in text it is written attached to the word before
 * it and followed by a space (", "), and {@link tokenizeCaption} splits it off.
 */
import { DRAWINGS } from './drawings/index.js';
import { SURFACE_KINDS, type SurfaceKind } from './surfaces.js';

/**
 * The templates by item count (index 0: one item). `{1}`..`{3}` are item phrases in left-to-right
 * order and `{surface}` the table kind.
 */
export const CAPTION_TEMPLATES = [
  '{1} on a {surface} table',
  '{1} next to {2} on a {surface} table',
  '{1}, {2} and {3} on a {surface} table',
] as const;

/** Every item phrase, in drawing-catalogue order, without duplicates. */
export const PHRASES: readonly string[] = [...new Set(DRAWINGS.map((d) => d.phrase))];

/**
 * The caption for items (phrases left to right) on a table of kind `surface`.
 *
 * @example
 * composeCaption(['a fish', 'an apple'], 'wooden'); // 'a fish next to an apple on a wooden table'
 */
export function composeCaption(phrases: readonly string[], surface: SurfaceKind): string {
  const template = CAPTION_TEMPLATES[phrases.length - 1];
  if (template === undefined) throw new RangeError(`a caption names 1 to 3 items, got ${phrases.length}`);
  return template.replace(/\{(\d|surface)\}/g, (_, slot: string) =>
    slot === 'surface' ? surface : (phrases[Number(slot) - 1] as string),
  );
}

/** A caption taken apart by {@link parseCaption}. */
export interface ParsedCaption {
  readonly phrases: readonly string[];
  readonly surface: SurfaceKind;
}

/**
 * The phrases and surface of a caption the grammar can produce, or `undefined` for any other
 * text (a wrong template, an unknown phrase or surface). Handy for scoring generated captions.
 *
 * @example
 * parseCaption('an apple on a blue table'); // { phrases: ['an apple'], surface: 'blue' }
 */
export function parseCaption(caption: string): ParsedCaption | undefined {
  const match = /^(.+) on a ([a-z]+) table$/.exec(caption);
  if (!match) return undefined;
  const [, items = '', surface = ''] = match;
  if (!(SURFACE_KINDS as readonly string[]).includes(surface)) return undefined;
  let phrases: string[];
  const three = /^(.+), (.+) and (.+)$/.exec(items);
  const two = /^(.+) next to (.+)$/.exec(items);
  if (three) phrases = three.slice(1);
  else if (two) phrases = two.slice(1);
  else phrases = [items];
  if (!phrases.every((p) => PHRASES.includes(p))) return undefined;
  // Round-tripping rejects look-alikes such as "a, b next to c" that match a pattern loosely.
  if (composeCaption(phrases, surface as SurfaceKind) !== caption) return undefined;
  return { phrases, surface: surface as SurfaceKind };
}

/**
 * Caption text to tokens: words split on spaces, with a trailing comma split off as ",".
 *
 * @example
 * tokenizeCaption('a fish, a crab and an apple on a blue table');
 * // ['a', 'fish', ',', 'a', 'crab', 'and', 'an', 'apple', 'on', 'a', 'blue', 'table']
 */
export function tokenizeCaption(caption: string): string[] {
  return caption
    .split(' ')
    .filter((word) => word !== '')
    .flatMap((word) => (word.length > 1 && word.endsWith(',') ? [word.slice(0, -1), ','] : [word]));
}

/**
 * Tokens back to caption text: the inverse of {@link tokenizeCaption}.
 *
 * @example
 * detokenizeCaption(['a', 'fish', ',', 'a', 'crab']); // 'a fish, a crab'
 */
export function detokenizeCaption(tokens: readonly string[]): string {
  return tokens.join(' ').replaceAll(' ,', ',');
}

/**
 * Every token a caption can contain, sorted: the phrases' words, the grammar's words, the
 * surface kinds and ",". A decoder's vocabulary needs nothing else.
 */
export const CAPTION_VOCABULARY: readonly string[] = [
  ...new Set([
    ...PHRASES.flatMap((p) => p.split(' ')),
    ...CAPTION_TEMPLATES.flatMap((t) => tokenizeCaption(t.replace(/\{[^}]+\}/g, ''))),
    ...SURFACE_KINDS,
  ]),
].sort();
