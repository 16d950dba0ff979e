/**
 * @module scenes/drawings/noodles-pasta
 * Class 6, noodles/pasta: a plate of spaghetti, a ramen bowl with chopsticks and a takeout box.
 */
import type { Rng } from '../prng.js';
import { num, outline, outlinedStroke, tone } from '../svg-kit.js';
import { type Drawing, defineDrawing } from './drawing.js';
import { drawBowl, drawPlate } from './tableware.js';

const PASTA = [46, 78, 70] as const;

/** Wavy strands across an ellipse: `count` sine curves between x = -rx and rx. */
function strands(rng: Rng, cx: number, cy: number, rx: number, ry: number, count: number, colour: string, width: number): string {
  let out = '';
  for (let i = 0; i < count; i++) {
    const y = cy - ry + ((i + 0.5) / count) * 2 * ry + rng.range(-1.5, 1.5);
    const span = rx * Math.sqrt(Math.max(0.05, 1 - ((y - cy) / ry) ** 2));
    const phase = rng.range(0, Math.PI * 2);
    const steps = 8;
    let d = '';
    for (let k = 0; k <= steps; k++) {
      const x = cx - span + (2 * span * k) / steps;
      const yy = y + Math.sin(phase + k * 1.6) * 2.2;
      d += `${k === 0 ? 'M' : 'L'} ${num(x)} ${num(yy)} `;
    }
    out += `<path d="${d.trim()}" fill="none" stroke="${colour}" stroke-width="${width}" stroke-linejoin="round" stroke-linecap="round"/>`;
  }
  return out;
}

function chopsticks(rng: Rng, x: number, y: number): string {
  const wood = tone(rng, [30, 50, 60], 5, 10, 8);
  return (
    outlinedStroke(`M ${x} ${y} L ${x + 40} ${y - 44}`, wood.fill, 3.5, 1.5) +
    outlinedStroke(`M ${x + 8} ${y + 2} L ${x + 46} ${y - 38}`, wood.fill, 3.5, 1.5)
  );
}

function spaghetti(rng: Rng): string {
  const pasta = tone(rng, PASTA, 4, 8, 5);
  const sauce = tone(rng, [6, 75, 45], 5, 8, 5);
  let meatballs = '';
  for (const [x, y] of [[-10, -10], [8, -14], [0, -2]] as const) {
    meatballs += `<circle cx="${num(x + rng.range(-2, 2))}" cy="${num(y + rng.range(-2, 2))}" r="6.5" fill="#7a3b22" ${outline(2)}/>`;
  }
  return (
    drawPlate(rng, 20, 49, 22) +
    `<path d="M -36 18 C -38 -10 -20 -24 0 -24 C 20 -24 38 -10 36 18 Q 0 30 -36 18 Z" fill="${pasta.fill}" ${outline()}/>` +
    strands(rng, 0, 2, 34, 18, 7, pasta.dark, 2) +
    `<path d="M -20 -6 C -22 -20 20 -24 20 -8 C 22 4 -18 8 -20 -6 Z" fill="${sauce.fill}" ${outline(2)}/>` +
    meatballs
  );
}

function ramen(rng: Rng): string {
  const bowl = drawBowl(rng, -2, 47);
  const broth = tone(rng, [34, 60, 62], 6, 10, 6);
  const noodle = tone(rng, [48, 80, 76], 4, 8, 4);
  return (
    bowl.inside +
    `<ellipse cx="0" cy="-1" rx="42" ry="10" fill="${broth.fill}"/>` +
    strands(rng, 0, -1, 38, 8, 5, noodle.fill, 3.5) +
    `<ellipse cx="-22" cy="-4" rx="8" ry="5.5" fill="#ffffff" ${outline(1.5)}/>` +
    `<circle cx="-22" cy="-4" r="3.5" fill="#f2a81d"/>` +
    `<rect x="14" y="-16" width="10" height="14" transform="rotate(12 19 -9)" fill="#1f3a2a" ${outline(1.5)}/>` +
    `<circle cx="4" cy="2" r="2.5" fill="#5cb85c"/><circle cx="-6" cy="-2" r="2.5" fill="#5cb85c"/>` +
    chopsticks(rng, 2, -2) +
    bowl.front
  );
}

function takeoutBox(rng: Rng): string {
  const box = tone(rng, rng.chance(0.7) ? [45, 20, 95] : [2, 65, 50], 8, 8, 3);
  const noodle = tone(rng, PASTA, 4, 8, 5);
  let spill = '';
  for (let i = 0; i < 6; i++) {
    const x = -20 + i * 8;
    spill += `<path d="M ${x} -8 C ${x - 6} -20 ${x + 6} -26 ${x + rng.range(-4, 4)} -34" fill="none" stroke="${noodle.dark}" stroke-width="5.5" stroke-linecap="round"/>`;
    spill += `<path d="M ${x} -8 C ${x - 6} -20 ${x + 6} -26 ${x + rng.range(-4, 4)} -34" fill="none" stroke="${noodle.fill}" stroke-width="3" stroke-linecap="round"/>`;
  }
  return (
    `<path d="M -18 -14 C -18 -50 18 -50 18 -14" fill="none" stroke="#8a9099" stroke-width="2.5"/>` +
    chopsticks(rng, -6, -12) +
    spill +
    `<polygon points="-34,-14 -44,-26 -16,-22" fill="${box.dark}" ${outline(2)}/>` +
    `<polygon points="34,-14 44,-26 16,-22" fill="${box.dark}" ${outline(2)}/>` +
    `<path d="M -34 -14 L 34 -14 L 25 44 L -25 44 Z" fill="${box.fill}" ${outline()}/>` +
    `<path d="M -34 -14 L 0 -4 L 34 -14" fill="none" ${outline(2)}/>` +
    `<circle cx="0" cy="20" r="9" fill="none" stroke="#c62828" stroke-width="3"/>`
  );
}

/** Noodle and pasta drawings, class index 6. */
export const NOODLES_PASTA_DRAWINGS: readonly Drawing[] = [
  defineDrawing('noodles-pasta/spaghetti', 6, 'a plate of spaghetti', spaghetti),
  defineDrawing('noodles-pasta/ramen', 6, 'a bowl of noodles', ramen),
  defineDrawing('noodles-pasta/takeout-box', 6, 'a box of noodles', takeoutBox),
];
