/**
 * @module scenes/drawings/egg
 * Class 3, egg: a fried egg, a boiled egg in an egg cup, and two whole eggs.
 */
import type { Rng } from '../prng.js';
import { type Hsl, blobPath, hslToHex, num, outline, tone, wobblyEllipse } from '../svg-kit.js';
import { type Drawing, defineDrawing } from './drawing.js';

/** Shell colours from white to brown. */
const SHELLS: readonly Hsl[] = [[35, 45, 90], [28, 50, 72], [24, 45, 62]];

function shell(rng: Rng, cx: number, cy: number, rx: number, ry: number, angle: number): string {
  const c = tone(rng, rng.pick(SHELLS), 4, 8, 3);
  return (
    `<g transform="translate(${cx} ${cy}) rotate(${num(angle)})">` +
    `<path d="M 0 ${-ry} C ${num(rx * 0.75)} ${-ry} ${rx} ${num(ry * 0.1)} ${rx} ${num(ry * 0.3)} C ${rx} ${num(ry * 0.8)} ${num(rx * 0.55)} ${ry} 0 ${ry} ` +
    `C ${num(-rx * 0.55)} ${ry} ${-rx} ${num(ry * 0.8)} ${-rx} ${num(ry * 0.3)} C ${-rx} ${num(ry * 0.1)} ${num(-rx * 0.75)} ${-ry} 0 ${-ry} Z" fill="${c.fill}" ${outline()}/>` +
    `<ellipse cx="${num(-rx * 0.4)}" cy="${num(-ry * 0.35)}" rx="${num(rx * 0.16)}" ry="${num(ry * 0.22)}" fill="#ffffff" fill-opacity="0.6"/>` +
    '</g>'
  );
}

function friedEgg(rng: Rng): string {
  const white = hslToHex([45, rng.range(10, 40), rng.range(96, 99)]);
  const yolk = tone(rng, [40, 95, 55], 5, 5, 5);
  const x = rng.range(-6, 6);
  const y = rng.range(-6, 6);
  return (
    `<path d="${blobPath(wobblyEllipse(rng, 0, 0, 46, 40, 9, 0.12))}" fill="${white}" ${outline()}/>` +
    `<circle cx="${num(x)}" cy="${num(y)}" r="16" fill="${yolk.fill}" ${outline()}/>` +
    `<ellipse cx="${num(x - 5)}" cy="${num(y - 6)}" rx="4.5" ry="3" fill="#ffffff" fill-opacity="0.75"/>`
  );
}

function boiledEgg(rng: Rng): string {
  const cup = tone(rng, [rng.range(0, 360), 55, 58], 0, 10, 6);
  return (
    shell(rng, 0, -14, 21, 29, rng.range(-6, 6)) +
    `<path d="M -26 2 C -26 24 -12 30 -9 32 L -9 36 L -22 40 L -22 46 L 22 46 L 22 40 L 9 36 L 9 32 C 12 30 26 24 26 2 Z" fill="${cup.fill}" ${outline()}/>` +
    `<path d="M -20 12 Q 0 18 20 12" fill="none" stroke="${cup.light}" stroke-width="3.5"/>`
  );
}

function twoEggs(rng: Rng): string {
  return shell(rng, -17, 2, 22, 30, rng.range(-14, -4)) + shell(rng, 20, 12, 21, 28, rng.range(4, 16));
}

/** Egg drawings, class index 3. */
export const EGG_DRAWINGS: readonly Drawing[] = [
  defineDrawing('egg/fried', 3, 'a fried egg', friedEgg, [0, 4]),
  defineDrawing('egg/boiled', 3, 'a boiled egg', boiledEgg),
  defineDrawing('egg/two-eggs', 3, 'two eggs', twoEggs, [0, 3]),
];
