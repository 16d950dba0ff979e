/**
 * @module scenes/drawings/vegetable-fruit
 * Class 10, vegetable/fruit: an apple, a carrot, broccoli and a banana.
 */
import type { Rng } from '../prng.js';
import { type Hsl, num, outline, tone } from '../svg-kit.js';
import { type Drawing, defineDrawing } from './drawing.js';

const LEAF = [110, 55, 40] as const;

function apple(rng: Rng): string {
  // Red most of the time, sometimes green or yellow, as apples go.
  const base: Hsl = rng.chance(0.6) ? [2, 75, 47] : rng.pick([[90, 60, 48], [50, 85, 55]] as const);
  const skin = tone(rng, base, 5, 8, 5);
  const leaf = tone(rng, LEAF);
  return (
    `<path d="M 0 -22 Q 2 -34 8 -42" fill="none" stroke="#6b4226" stroke-width="4" stroke-linecap="round"/>` +
    `<path d="M 0 -22 C 14 -36 46 -30 44 2 C 42 32 20 46 0 40 C -20 46 -42 32 -44 2 C -46 -30 -14 -36 0 -22 Z" fill="${skin.fill}" ${outline()}/>` +
    `<ellipse cx="-22" cy="-8" rx="6" ry="11" transform="rotate(20 -22 -8)" fill="#ffffff" fill-opacity="0.45"/>` +
    `<path d="M 5 -34 C 14 -48 30 -46 34 -40 C 24 -30 12 -30 5 -34 Z" fill="${leaf.fill}" ${outline(2)}/>`
  );
}

function carrot(rng: Rng): string {
  const root = tone(rng, [26, 90, 55], 4, 8, 5);
  const leaf = tone(rng, LEAF);
  let ridges = '';
  for (const x of [-16, 0, 16, 28]) {
    const h = (14 * (44 - x)) / 74;
    ridges += `<path d="M ${x} ${num(-h * 0.7)} L ${x + 3} ${num(-h * 0.15)}" stroke="${root.dark}" stroke-width="2.2" stroke-linecap="round"/>`;
    ridges += `<path d="M ${x + 6} ${num(h * 0.7)} L ${x + 9} ${num(h * 0.2)}" stroke="${root.dark}" stroke-width="2.2" stroke-linecap="round"/>`;
  }
  let leaves = '';
  for (const angle of [-28, 0, 28]) {
    leaves += `<ellipse cx="-44" cy="0" rx="14" ry="4.5" transform="rotate(${angle} -30 0)" fill="${leaf.fill}" ${outline(2)}/>`;
  }
  return (
    '<g transform="rotate(135) translate(-4 0)">' +
    leaves +
    `<path d="M -32 -15 Q -40 0 -32 15 L 46 2 Q 49 0 46 -2 Z" fill="${root.fill}" ${outline()}/>` +
    ridges +
    '</g>'
  );
}

function broccoli(rng: Rng): string {
  const floret = tone(rng, [110, 50, 34], 6, 8, 5);
  const stalk = tone(rng, [85, 40, 62], 5, 8, 5);
  const florets: Array<[number, number, number]> = [
    [-28, -2, 16],
    [28, -2, 16],
    [-14, -22, 18],
    [14, -24, 18],
    [0, -32, 15],
    [0, -6, 17],
  ];
  let out =
    `<path d="M -12 4 L -13 42 Q 0 47 13 42 L 12 4 Z" fill="${stalk.fill}" ${outline()}/>` +
    `<path d="M -4 20 L -18 6 M 4 18 L 18 6" stroke="${stalk.fill}" stroke-width="6" stroke-linecap="round"/>`;
  for (const [x, y, r] of florets) {
    out += `<circle cx="${x}" cy="${y}" r="${r}" fill="${floret.fill}" ${outline()}/>`;
  }
  for (let i = 0; i < 12; i++) {
    const [x, y, r] = rng.pick(florets);
    const a = rng.range(0, Math.PI * 2);
    const d = rng.range(0, r * 0.65);
    out += `<circle cx="${num(x + Math.cos(a) * d)}" cy="${num(y + Math.sin(a) * d)}" r="${num(rng.range(1.5, 2.8))}" fill="${floret.light}" fill-opacity="0.8"/>`;
  }
  return out;
}

function banana(rng: Rng): string {
  const peel = tone(rng, [50, 90, 60], 4, 8, 5);
  return (
    `<path d="M -42 -20 C -34 22 26 34 46 -8 C 30 6 -18 6 -34 -22 Z" fill="${peel.fill}" ${outline()}/>` +
    `<path d="M -36 -12 C -22 16 20 22 38 2" fill="none" stroke="${peel.dark}" stroke-width="2.5"/>` +
    `<path d="M -42 -20 L -46 -31 L -38 -33 L -34 -22" fill="#7a5a1e" ${outline(2)}/>` +
    `<circle cx="46" cy="-8" r="3.2" fill="#4a3518" ${outline(1.5)}/>`
  );
}

/** Vegetable and fruit drawings, class index 10. */
export const VEGETABLE_FRUIT_DRAWINGS: readonly Drawing[] = [
  defineDrawing('vegetable-fruit/apple', 10, 'an apple', apple),
  defineDrawing('vegetable-fruit/carrot', 10, 'a carrot', carrot, [-9, 12]),
  defineDrawing('vegetable-fruit/broccoli', 10, 'some broccoli', broccoli),
  defineDrawing('vegetable-fruit/banana', 10, 'a banana', banana, [0, 25]),
];
