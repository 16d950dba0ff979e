/**
 * @module scenes/drawings/soup
 * Class 9, soup: a steaming bowl, a pot with a ladle and a mug of soup.
 */
import type { Rng } from '../prng.js';
import { type Hsl, num, outline, outlinedStroke, tone } from '../svg-kit.js';
import { type Drawing, defineDrawing } from './drawing.js';
import { drawBowl, drawSteam } from './tableware.js';

/** Tomato, pumpkin, pea, corn and beef broth. */
const SOUPS: readonly Hsl[] = [[8, 70, 48], [28, 85, 55], [85, 50, 45], [46, 85, 58], [24, 55, 36]];

function bits(rng: Rng, cx: number, cy: number, rx: number, ry: number, count: number): string {
  let out = '';
  const colours = ['#f08a24', '#4caf50', '#fff3d6', '#c62828'];
  for (let i = 0; i < count; i++) {
    const a = rng.range(0, Math.PI * 2);
    const r = Math.sqrt(rng.next()) * 0.8;
    out += `<rect x="${num(cx + Math.cos(a) * rx * r - 2.2)}" y="${num(cy + Math.sin(a) * ry * r - 2.2)}" width="4.4" height="4.4" rx="1" fill="${rng.pick(colours)}"/>`;
  }
  return out;
}

function soupBowl(rng: Rng): string {
  const bowl = drawBowl(rng, 2, 47);
  const soup = tone(rng, rng.pick(SOUPS), 5, 8, 5);
  return (
    drawSteam(rng, -14, 20) +
    bowl.inside +
    `<ellipse cx="0" cy="3" rx="42" ry="10" fill="${soup.fill}"/>` +
    `<ellipse cx="-14" cy="1" rx="9" ry="2.5" fill="${soup.light}" fill-opacity="0.7"/>` +
    bits(rng, 0, 3, 40, 9, 7) +
    bowl.front
  );
}

function soupPot(rng: Rng): string {
  const pot = tone(rng, rng.pick([[210, 8, 62], [0, 65, 48], [215, 50, 45], [150, 35, 40]] as const), 5, 6, 5);
  const soup = tone(rng, rng.pick(SOUPS), 5, 8, 5);
  return (
    drawSteam(rng, -24, 18) +
    `<rect x="-48" y="-6" width="14" height="9" rx="3" fill="${pot.dark}" ${outline()}/>` +
    `<rect x="34" y="-6" width="14" height="9" rx="3" fill="${pot.dark}" ${outline()}/>` +
    `<path d="M -38 -12 L 38 -12 L 38 34 Q 38 44 28 44 L -28 44 Q -38 44 -38 34 Z" fill="${pot.fill}" ${outline()}/>` +
    `<path d="M -30 4 L -30 34" stroke="${pot.light}" stroke-width="4" stroke-linecap="round" stroke-opacity="0.8"/>` +
    `<ellipse cx="0" cy="-12" rx="40" ry="9" fill="${pot.dark}" ${outline()}/>` +
    `<ellipse cx="0" cy="-11" rx="34" ry="6" fill="${soup.fill}"/>` +
    bits(rng, 0, -11, 32, 5, 5) +
    outlinedStroke('M 10 -12 L 30 -44', '#9aa3ad', 5, 2)
  );
}

function soupMug(rng: Rng): string {
  const mug = tone(rng, [rng.range(0, 360), 50, 58], 0, 10, 8);
  const soup = tone(rng, rng.pick(SOUPS), 5, 8, 5);
  return (
    drawSteam(rng, -14, 14) +
    outlinedStroke('M 24 -2 C 46 -4 46 28 22 26', mug.fill, 6) +
    `<path d="M -30 -10 L 28 -10 L 24 40 Q 23 45 18 45 L -20 45 Q -25 45 -26 40 Z" fill="${mug.fill}" ${outline()}/>` +
    `<ellipse cx="-1" cy="-10" rx="29" ry="6.5" fill="${mug.dark}" ${outline()}/>` +
    `<ellipse cx="-1" cy="-9.5" rx="25" ry="4.5" fill="${soup.fill}"/>` +
    `<path d="M -20 2 L -18 34" stroke="${mug.light}" stroke-width="4" stroke-linecap="round" stroke-opacity="0.8"/>`
  );
}

/** Soup drawings, class index 9. */
export const SOUP_DRAWINGS: readonly Drawing[] = [
  defineDrawing('soup/bowl', 9, 'a bowl of soup', soupBowl),
  defineDrawing('soup/pot', 9, 'a pot of soup', soupPot),
  defineDrawing('soup/mug', 9, 'a cup of soup', soupMug, [-7, 0]),
];
