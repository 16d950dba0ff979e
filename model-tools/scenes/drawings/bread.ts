/**
 * @module scenes/drawings/bread
 * Class 0, bread: a loaf, a slice and a baguette.
 */
import type { Rng } from '../prng.js';
import { num, outline, tone } from '../svg-kit.js';
import { type Drawing, defineDrawing } from './drawing.js';

const CRUST = [30, 65, 45] as const;
const CRUMB = [42, 70, 84] as const;

function loaf(rng: Rng): string {
  const crust = tone(rng, CRUST);
  const crumb = tone(rng, CRUMB);
  let slashes = '';
  for (const x of [-22, 0, 22]) {
    slashes += `<path d="M ${x - 9} -8 Q ${x - 2} -20 ${x + 8} -25" fill="none" stroke="${crumb.fill}" stroke-width="5" stroke-linecap="round"/>`;
  }
  return (
    `<path d="M -46 40 C -50 -8 -34 -32 0 -32 C 34 -32 50 -8 46 40 Z" fill="${crust.fill}" ${outline()}/>` +
    `<path d="M -44 30 L 44 30" stroke="${crust.dark}" stroke-width="3"/>` +
    slashes
  );
}

function slice(rng: Rng): string {
  const crust = tone(rng, CRUST);
  const crumb = tone(rng, CRUMB);
  const shape =
    'M -34 44 L -34 -4 C -50 -8 -50 -46 -18 -44 C -8 -50 8 -50 18 -44 C 50 -46 50 -8 34 -4 L 34 44 Z';
  let pores = '';
  for (let i = 0; i < 7; i++) {
    pores += `<ellipse cx="${num(rng.range(-22, 22))}" cy="${num(rng.range(-28, 32))}" rx="${num(rng.range(1.5, 3))}" ry="${num(rng.range(1, 2))}" fill="${crumb.dark}"/>`;
  }
  return (
    `<path d="${shape}" fill="${crust.fill}" ${outline()}/>` +
    `<path d="${shape}" transform="translate(0 3) scale(0.8)" fill="${crumb.fill}"/>` +
    pores
  );
}

function baguette(rng: Rng): string {
  const crust = tone(rng, CRUST);
  const crumb = tone(rng, CRUMB);
  let slashes = '';
  for (let k = 0; k < 5; k++) {
    const x = -30 + k * 15;
    slashes += `<path d="M ${x - 6} 6 Q ${x} -3 ${x + 7} -7" fill="none" stroke="${crumb.fill}" stroke-width="4" stroke-linecap="round"/>`;
  }
  return (
    '<g transform="rotate(-25)">' +
    `<path d="M -50 0 C -50 -13 -30 -14 0 -14 C 30 -14 50 -13 50 0 C 50 13 30 14 0 14 C -30 14 -50 13 -50 0 Z" fill="${crust.fill}" ${outline()}/>` +
    slashes +
    '</g>'
  );
}

/** Bread drawings, class index 0. */
export const BREAD_DRAWINGS: readonly Drawing[] = [
  defineDrawing('bread/loaf', 0, 'a loaf of bread', loaf, [0, 3]),
  defineDrawing('bread/slice', 0, 'a slice of bread', slice),
  defineDrawing('bread/baguette', 0, 'a baguette', baguette, [0, 16]),
];
