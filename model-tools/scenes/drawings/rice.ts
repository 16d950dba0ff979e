/**
 * @module scenes/drawings/rice
 * Class 7, rice: a bowl of rice, a plate of rice and an onigiri rice ball.
 */
import type { Rng } from '../prng.js';
import { hslToHex, num, outline } from '../svg-kit.js';
import { type Drawing, defineDrawing } from './drawing.js';
import { drawBowl, drawGrains, drawPlate } from './tableware.js';

function riceWhite(rng: Rng): string {
  return hslToHex([50, rng.range(10, 30), rng.range(97, 99)]);
}

function riceBowl(rng: Rng): string {
  const bowl = drawBowl(rng, 2, 46);
  return (
    bowl.inside +
    `<path d="M -42 4 C -42 -40 42 -40 42 4 Z" fill="${riceWhite(rng)}" ${outline()}/>` +
    drawGrains(rng, 0, -12, 30, 13, 16) +
    bowl.front
  );
}

function ricePlate(rng: Rng): string {
  let garnish = '';
  for (let i = 0; i < 6; i++) {
    const x = rng.range(-40, 40);
    const y = 22 + rng.range(6, 12) * (rng.chance(0.5) ? 1 : -0.2);
    garnish += rng.chance(0.5)
      ? `<circle cx="${num(x)}" cy="${num(y)}" r="3.2" fill="#5cb040" ${outline(1.2)}/>`
      : `<rect x="${num(x - 3)}" y="${num(y - 3)}" width="6" height="6" fill="#f08a24" ${outline(1.2)}/>`;
  }
  return (
    drawPlate(rng, 24, 49, 20) +
    `<path d="M -36 26 C -32 -22 32 -22 36 26 Q 0 34 -36 26 Z" fill="${riceWhite(rng)}" ${outline()}/>` +
    drawGrains(rng, 0, 4, 24, 14, 16) +
    garnish
  );
}

function onigiri(rng: Rng): string {
  const nori = hslToHex([150, rng.range(20, 35), rng.range(14, 20)]);
  const shape = 'M 0 -44 C 12 -44 48 22 42 34 C 36 44 -36 44 -42 34 C -48 22 -12 -44 0 -44 Z';
  return (
    `<path d="${shape}" fill="${riceWhite(rng)}" ${outline()}/>` +
    drawGrains(rng, 0, -6, 18, 18, 12) +
    `<path d="M -15 14 L 15 14 L 15 42 L -15 42 Z" fill="${nori}" ${outline(2)}/>`
  );
}

/** Rice drawings, class index 7. */
export const RICE_DRAWINGS: readonly Drawing[] = [
  defineDrawing('rice/bowl', 7, 'a bowl of rice', riceBowl),
  defineDrawing('rice/plate', 7, 'a plate of rice', ricePlate),
  defineDrawing('rice/onigiri', 7, 'a rice ball', onigiri),
];
