/**
 * @module scenes/drawings/dairy
 * Class 1, dairy product: a cheese wedge, a glass of milk and a pot of yogurt.
 */
import type { Rng } from '../prng.js';
import { hslToHex, num, outline, tone } from '../svg-kit.js';
import { type Drawing, defineDrawing } from './drawing.js';

function cheese(rng: Rng, idPrefix: string): string {
  const c = tone(rng, [46, 90, 60], 5, 8, 6);
  // A wedge seen from the front and above: top triangle, long front face, cut face at the right.
  const top = '-48,-2 40,8 30,-30';
  const front = '-48,-2 40,8 40,40 -48,22';
  const side = '40,8 30,-30 30,4 40,40';
  let holes = '';
  for (let i = 0; i < 5; i++) {
    const x = rng.range(-38, 30);
    const yTop = -2 + ((x + 48) / 88) * 10;
    const yBottom = 22 + ((x + 48) / 88) * 18;
    const r = rng.range(3, 6);
    holes += `<circle cx="${num(x)}" cy="${num(rng.range(yTop + r + 1, yBottom - r - 1))}" r="${num(r)}" fill="${c.dark}"/>`;
  }
  const clipId = `${idPrefix}f`;
  return (
    `<clipPath id="${clipId}"><polygon points="${front}"/></clipPath>` +
    `<polygon points="${side}" fill="${c.dark}" ${outline()}/>` +
    `<polygon points="${front}" fill="${c.fill}" ${outline()}/>` +
    `<g clip-path="url(#${clipId})">${holes}</g>` +
    `<polygon points="${top}" fill="${c.light}" ${outline()}/>` +
    `<ellipse cx="14" cy="-8" rx="4" ry="2.2" fill="${c.fill}"/>`
  );
}

function milk(rng: Rng): string {
  const milkColour = hslToHex([rng.range(40, 210), rng.range(10, 40), rng.range(96, 99)]);
  const glass = hslToHex([rng.range(190, 215), rng.range(25, 45), rng.range(86, 91)]);
  const level = rng.range(-34, -24);
  const half = (y: number) => 22 - ((y + 46) / 90) * 5;
  return (
    `<path d="M -22 -46 L 22 -46 L 17 44 L -17 44 Z" fill="${glass}" ${outline()}/>` +
    `<path d="M ${num(-half(level) + 1.5)} ${num(level)} L ${num(half(level) - 1.5)} ${num(level)} L 15.5 42.5 L -15.5 42.5 Z" fill="${milkColour}"/>` +
    `<ellipse cx="0" cy="${num(level)}" rx="${num(half(level) - 1.5)}" ry="3" fill="${milkColour}" stroke="#cfd6dc" stroke-width="1.5"/>` +
    `<path d="M -13 -38 L -10 34" stroke="#ffffff" stroke-width="4" stroke-linecap="round" stroke-opacity="0.8"/>` +
    `<ellipse cx="0" cy="-46" rx="22" ry="3.5" fill="none" ${outline()}/>`
  );
}

function yogurt(rng: Rng): string {
  const pot = tone(rng, [45, 30, 95], 10, 10, 2);
  const flavour = tone(rng, rng.pick([[340, 70, 68], [210, 65, 60], [275, 45, 62], [48, 85, 62], [120, 40, 55]] as const));
  const cream = hslToHex([340, rng.range(10, 40), 94]);
  const spoon = hslToHex([210, 8, rng.range(72, 80)]);
  return (
    `<path d="M 4 -26 L 24 -52" stroke="#5a5f66" stroke-width="7.5" stroke-linecap="round"/>` +
    `<path d="M 4 -26 L 24 -52" stroke="${spoon}" stroke-width="4.5" stroke-linecap="round"/>` +
    `<path d="M -34 -26 L 34 -26 L 25 44 L -25 44 Z" fill="${pot.fill}" ${outline()}/>` +
    `<path d="M -31 -2 L 31 -2 L 28.4 20 L -28.4 20 Z" fill="${flavour.fill}"/>` +
    `<circle cx="0" cy="9" r="6" fill="${flavour.dark}"/>` +
    `<ellipse cx="0" cy="-26" rx="34" ry="8" fill="${pot.fill}" ${outline()}/>` +
    `<ellipse cx="0" cy="-25" rx="28" ry="5.5" fill="${cream}"/>` +
    `<path d="M 4 -25 L 14 -38" stroke="${spoon}" stroke-width="4.5" stroke-linecap="round"/>`
  );
}

/** Dairy drawings, class index 1. */
export const DAIRY_DRAWINGS: readonly Drawing[] = [
  defineDrawing('dairy/cheese', 1, 'a piece of cheese', cheese, [4, 3]),
  defineDrawing('dairy/milk', 1, 'a glass of milk', milk),
  defineDrawing('dairy/yogurt', 1, 'a cup of yogurt', yogurt),
];
