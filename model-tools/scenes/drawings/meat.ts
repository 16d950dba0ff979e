/**
 * @module scenes/drawings/meat
 * Class 5, meat: a grilled steak, a sausage and a glazed leg of ham.
 */
import type { Rng } from '../prng.js';
import { blobPath, num, outline, outlinedStroke, tone, wobblyEllipse } from '../svg-kit.js';
import { type Drawing, defineDrawing } from './drawing.js';

function steak(rng: Rng): string {
  const meat = tone(rng, [6, 55, 36], 5, 8, 5);
  const fat = tone(rng, [30, 45, 88], 5, 8, 3);
  const points = wobblyEllipse(rng, 0, 4, 46, 34, 9, 0.1);
  const inner = points.map(([x, y]) => [x * 0.84, 4 + (y - 4) * 0.8] as const);
  let marks = '';
  for (let i = 0; i < 4; i++) {
    const x = -24 + i * 15;
    marks += `<path d="M ${x - 8} -12 L ${x + 8} 20" stroke="#3d1a12" stroke-width="5" stroke-linecap="round"/>`;
  }
  return (
    `<path d="${blobPath(points)}" fill="${fat.fill}" ${outline()}/>` +
    `<path d="${blobPath(inner)}" fill="${meat.fill}"/>` +
    `<ellipse cx="-18" cy="-6" rx="7" ry="3" fill="${meat.light}" fill-opacity="0.6"/>` +
    marks
  );
}

function sausage(rng: Rng): string {
  const skin = tone(rng, [14, 60, 42], 6, 8, 6);
  const bend = rng.range(-30, -20);
  const d = `M -36 10 Q 0 ${num(bend)} 36 10`;
  let marks = '';
  for (const x of [-16, 0, 16]) {
    const y = 10 + ((bend - 10) / 2) * (1 - (x / 36) ** 2);
    marks += `<path d="M ${x - 4} ${num(y + 4)} L ${x + 4} ${num(y - 4)}" stroke="${skin.dark}" stroke-width="3" stroke-linecap="round"/>`;
  }
  return (
    outlinedStroke(d, skin.fill, 24) +
    `<path d="M -28 2 Q 0 ${num(bend - 2)} 28 2" fill="none" stroke="${skin.light}" stroke-width="3.5" stroke-linecap="round" stroke-opacity="0.8"/>` +
    marks
  );
}

function ham(rng: Rng, idPrefix: string): string {
  const glaze = tone(rng, [14, 62, 46], 5, 8, 5);
  const bone = '#f4efe2';
  const body = 'M -44 24 C -52 -10 -18 -34 6 -22 L 22 -10 C 30 -2 28 10 18 16 C -2 36 -34 48 -44 24 Z';
  const clipId = `${idPrefix}h`;
  let hatch = '';
  for (let i = -4; i <= 4; i++) {
    hatch += `<path d="M ${i * 12 - 40} -40 L ${i * 12 + 40} 40" stroke="${glaze.dark}" stroke-width="2"/>`;
    hatch += `<path d="M ${i * 12 - 40} 40 L ${i * 12 + 40} -40" stroke="${glaze.dark}" stroke-width="2"/>`;
  }
  return (
    outlinedStroke('M 14 2 L 34 -22', bone, 9) +
    `<circle cx="34" cy="-32" r="7" fill="${bone}" ${outline()}/>` +
    `<circle cx="44" cy="-22" r="7" fill="${bone}" ${outline()}/>` +
    `<path d="M 31 -27 L 39 -19" stroke="${bone}" stroke-width="8"/>` +
    `<clipPath id="${clipId}"><path d="${body}"/></clipPath>` +
    `<path d="${body}" fill="${glaze.fill}" ${outline()}/>` +
    `<g clip-path="url(#${clipId})">${hatch}</g>` +
    `<path d="${body}" fill="none" ${outline()}/>` +
    `<ellipse cx="-30" cy="-8" rx="8" ry="4" transform="rotate(-35 -30 -8)" fill="${glaze.light}" fill-opacity="0.7"/>`
  );
}

/** Meat drawings, class index 5. */
export const MEAT_DRAWINGS: readonly Drawing[] = [
  defineDrawing('meat/steak', 5, 'a steak', steak, [0, 5]),
  defineDrawing('meat/sausage', 5, 'a sausage', sausage, [0, 20]),
  defineDrawing('meat/ham', 5, 'a leg of ham', ham, [-2, 5]),
];
