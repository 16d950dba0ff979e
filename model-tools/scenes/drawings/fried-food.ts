/**
 * @module scenes/drawings/fried-food
 * Class 4, fried food: fries in a carton, a fried chicken drumstick and onion rings.
 */
import type { Rng } from '../prng.js';
import { blobPath, num, outline, outlinedStroke, tone, wobblyEllipse } from '../svg-kit.js';
import { type Drawing, defineDrawing } from './drawing.js';

const GOLDEN = [34, 75, 50] as const;

function fries(rng: Rng): string {
  const fry = tone(rng, [46, 88, 62], 4, 6, 5);
  const carton = tone(rng, rng.pick([[2, 75, 48], [350, 70, 45], [212, 60, 45]] as const), 5, 8, 4);
  let sticks = '';
  for (let i = 0; i < 9; i++) {
    const x = -24 + i * 6 + rng.range(-2, 2);
    const top = rng.range(-48, -30);
    const angle = rng.range(-12, 12);
    sticks += `<rect x="${num(x - 3.5)}" y="${num(top)}" width="7" height="40" rx="1.5" transform="rotate(${num(angle)} ${num(x)} 0)" fill="${fry.fill}" ${outline(2)}/>`;
  }
  return (
    sticks +
    `<path d="M -31 -12 Q 0 4 31 -12 L 23 46 L -23 46 Z" fill="${carton.fill}" ${outline()}/>` +
    `<path d="M -26 -3 Q 0 11 26 -3" fill="none" stroke="${carton.light}" stroke-width="3"/>` +
    `<circle cx="0" cy="24" r="8" fill="#f6c744" ${outline(2)}/>`
  );
}

function drumstick(rng: Rng): string {
  const coat = tone(rng, GOLDEN, 5, 8, 5);
  const bone = '#f4efe2';
  let crumbs = '';
  for (let i = 0; i < 12; i++) {
    // Inside the coating's ellipse (before its rotation), so crumbs never stray onto the table.
    const angle = rng.range(0, Math.PI * 2);
    const r = Math.sqrt(rng.next()) * 0.8;
    const x = -10 + Math.cos(angle) * 36 * r;
    const y = 14 + Math.sin(angle) * 25 * r;
    crumbs += `<circle cx="${num(x)}" cy="${num(y)}" r="${num(rng.range(1.5, 3))}" fill="${rng.chance(0.5) ? coat.dark : coat.light}"/>`;
  }
  return (
    outlinedStroke('M 4 -4 L 30 -30', bone, 10) +
    `<circle cx="30" cy="-40" r="8" fill="${bone}" ${outline()}/>` +
    `<circle cx="40" cy="-30" r="8" fill="${bone}" ${outline()}/>` +
    `<path d="M 26 -34 L 34 -26" stroke="${bone}" stroke-width="9"/>` +
    `<g transform="rotate(-40 -10 14)"><path d="${blobPath(wobblyEllipse(rng, -10, 14, 38, 27, 16, 0.07))}" fill="${coat.fill}" ${outline()}/>${crumbs}</g>`
  );
}

function onionRings(rng: Rng): string {
  const rings: Array<[number, number]> = [
    [-18, 16],
    [18, 20],
    [0, -14],
  ];
  let out = '';
  for (const [x, y] of rings) {
    const c = tone(rng, GOLDEN, 5, 8, 5);
    const r = rng.range(17, 20);
    out +=
      `<circle cx="${x}" cy="${y}" r="${num(r)}" fill="none" stroke="#3a2a22" stroke-width="15"/>` +
      `<circle cx="${x}" cy="${y}" r="${num(r)}" fill="none" stroke="${c.fill}" stroke-width="10"/>` +
      `<circle cx="${x}" cy="${y}" r="${num(r)}" fill="none" stroke="${c.light}" stroke-width="3" stroke-dasharray="2 5"/>`;
  }
  return out;
}

/** Fried food drawings, class index 4. */
export const FRIED_FOOD_DRAWINGS: readonly Drawing[] = [
  defineDrawing('fried-food/fries', 4, 'some fries', fries),
  defineDrawing('fried-food/drumstick', 4, 'a piece of fried chicken', drumstick),
  defineDrawing('fried-food/onion-rings', 4, 'some onion rings', onionRings),
];
