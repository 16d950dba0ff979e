/**
 * @module scenes/drawings/dessert
 * Class 2, dessert: a slice of layer cake, a cupcake and an ice cream cone.
 */
import type { Rng } from '../prng.js';
import { type Hsl, num, outline, tone } from '../svg-kit.js';
import { type Drawing, defineDrawing } from './drawing.js';

const FROSTINGS: readonly Hsl[] = [[340, 75, 80], [40, 60, 94], [20, 45, 35], [160, 45, 75], [270, 45, 80]];
const SPONGES: readonly Hsl[] = [[42, 75, 72], [22, 45, 35], [0, 55, 65]];

function cherry(x: number, y: number, r: number): string {
  return (
    `<path d="M ${x} ${y - r + 1} Q ${x + 2} ${y - r - 6} ${x + 7} ${y - r - 9}" fill="none" stroke="#5a7a2a" stroke-width="2"/>` +
    `<circle cx="${x}" cy="${y}" r="${r}" fill="#d3202f" ${outline(2)}/>` +
    `<circle cx="${x - r * 0.35}" cy="${y - r * 0.35}" r="${num(r * 0.28)}" fill="#ffffff" fill-opacity="0.7"/>`
  );
}

function cakeSlice(rng: Rng): string {
  const frosting = tone(rng, rng.pick(FROSTINGS), 6, 8, 4);
  const sponge = tone(rng, rng.pick(SPONGES), 5, 8, 4);
  const filling = tone(rng, rng.pick(FROSTINGS), 6, 8, 4);
  // Front face A(-46,2) B(42,-10) C(42,34) D(-46,40); a band at fractions t1..t2 from top to bottom.
  const band = (t1: number, t2: number, fill: string) =>
    `<polygon points="-46,${num(2 + 38 * t1)} 42,${num(-10 + 44 * t1)} 42,${num(-10 + 44 * t2)} -46,${num(2 + 38 * t2)}" fill="${fill}"/>`;
  return (
    `<polygon points="-46,2 42,-10 42,34 -46,40" fill="${sponge.fill}"/>` +
    band(0.4, 0.56, filling.fill) +
    band(0.86, 1, sponge.dark) +
    `<polygon points="-46,2 42,-10 42,34 -46,40" fill="none" ${outline()}/>` +
    `<polygon points="-46,2 42,-10 26,-28" fill="${frosting.fill}" ${outline()}/>` +
    `<path d="M -46 2 L 42 -10 L 42 -2 Q 34 4 30 -3 Q 22 8 14 -1 Q 6 8 -2 3 Q -10 12 -18 5 Q -28 14 -34 7 Q -40 12 -46 8 Z" fill="${frosting.fill}" ${outline(2)}/>` +
    cherry(22, -26, 7)
  );
}

function cupcake(rng: Rng): string {
  const wrapper = tone(rng, [rng.range(0, 360), 55, 62], 0, 10, 6);
  const frosting = tone(rng, rng.pick(FROSTINGS), 6, 8, 4);
  let stripes = '';
  for (let i = -2; i <= 2; i++) {
    stripes += `<path d="M ${i * 11} 8 L ${num(i * 7.5)} 44" stroke="${wrapper.dark}" stroke-width="2.5"/>`;
  }
  let sprinkles = '';
  const colours = ['#e63946', '#2a9df4', '#f4d35e', '#57cc99', '#ffffff'];
  for (let i = 0; i < 8; i++) {
    const x = rng.range(-26, 26);
    const y = rng.range(-22, 2) + Math.abs(x) * 0.2;
    const a = rng.range(0, 180);
    sprinkles += `<path d="M ${num(x - 2.5)} ${num(y)} L ${num(x + 2.5)} ${num(y)}" transform="rotate(${num(a)} ${num(x)} ${num(y)})" stroke="${rng.pick(colours)}" stroke-width="2.2" stroke-linecap="round"/>`;
  }
  return (
    `<path d="M -30 6 L 30 6 L 21 44 L -21 44 Z" fill="${wrapper.fill}" ${outline()}/>` +
    stripes +
    `<path d="M -30 6 L 30 6 L 21 44 L -21 44 Z" fill="none" ${outline()}/>` +
    `<path d="M -34 8 C -46 -2 -32 -16 -25 -12 C -32 -28 -12 -34 -8 -28 C -8 -44 14 -44 9 -30 C 22 -34 32 -22 25 -12 C 34 -16 46 -2 34 8 Z" fill="${frosting.fill}" ${outline()}/>` +
    `<path d="M -24 -4 Q 0 4 24 -4" fill="none" stroke="${frosting.dark}" stroke-width="2"/>` +
    sprinkles +
    cherry(2, -38, 6)
  );
}

function iceCream(rng: Rng): string {
  const cone = tone(rng, [34, 60, 60], 4, 8, 5);
  const flavours: readonly Hsl[] = [[340, 70, 78], [45, 70, 88], [22, 45, 32], [150, 45, 70], [0, 70, 55]];
  const scoops = rng.int(1, 2);
  // Waffle lines parallel to each side of the cone triangle (-22,-4) (22,-4) (0,48).
  let waffle = '';
  for (const x of [-11, 0, 11]) {
    const t1 = (22 - x) / 44;
    waffle += `<path d="M ${x} -4 L ${num(x + 22 * t1)} ${num(-4 + 52 * t1)}" stroke="${cone.dark}" stroke-width="2"/>`;
    const t2 = (x + 22) / 44;
    waffle += `<path d="M ${x} -4 L ${num(x - 22 * t2)} ${num(-4 + 52 * t2)}" stroke="${cone.dark}" stroke-width="2"/>`;
  }
  let out = `<path d="M -24 -4 L 24 -4 L 0 48 Z" fill="${cone.fill}" ${outline()}/>${waffle}`;
  out += `<path d="M -24 -4 L 24 -4 L 0 48 Z" fill="none" ${outline()}/>`;
  const top = scoops === 2 ? rng.pick(flavours) : undefined;
  if (top) {
    const c = tone(rng, top, 5, 6, 3);
    out += `<circle cx="0" cy="-32" r="16" fill="${c.fill}" ${outline()}/>`;
  }
  const bottom = tone(rng, rng.pick(flavours), 5, 6, 3);
  out +=
    `<path d="M -26 -2 C -32 -36 32 -36 26 -2 Q 20 6 14 -1 Q 8 8 2 0 Q -4 8 -10 0 Q -16 8 -20 -1 Q -24 4 -26 -2 Z" fill="${bottom.fill}" ${outline()}/>` +
    `<ellipse cx="-9" cy="-18" rx="4" ry="6" fill="#ffffff" fill-opacity="0.45"/>`;
  if (!top) out += cherry(3, -30, 6);
  return out;
}

/** Dessert drawings, class index 2. */
export const DESSERT_DRAWINGS: readonly Drawing[] = [
  defineDrawing('dessert/cake-slice', 2, 'a slice of cake', cakeSlice),
  defineDrawing('dessert/cupcake', 2, 'a cupcake', cupcake),
  defineDrawing('dessert/ice-cream', 2, 'an ice cream cone', iceCream),
];
