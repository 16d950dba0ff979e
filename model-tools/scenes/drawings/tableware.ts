/**
 * @module scenes/drawings/tableware
 * Bowls, plates and steam shared by several foods, in the 100-unit drawing frame.
 */
import type { Rng } from '../prng.js';
import { type Tone, hslToHex, num, outline, tone } from '../svg-kit.js';

/** Bowl colours: glazed ceramics, none white, so white rice and noodles stand out against them. */
const BOWL_HUES = [[210, 45, 55], [0, 55, 50], [40, 35, 72], [160, 35, 48], [25, 60, 55], [260, 25, 60]] as const;

/** A bowl's two layers: what is behind the food (the inside rim) and what is in front of it. */
export interface BowlLayers {
  readonly inside: string;
  readonly front: string;
}

/**
 * A round bowl whose rim is an ellipse centred at (0, rimY) with half-width `rx`; the body
 * reaches down to y = 44. Draw `inside`, then the food, then `front`.
 *
 * @example
 * const bowl = drawBowl(rng, -4, 46);
 * bowl.inside + soup + bowl.front;
 */
export function drawBowl(rng: Rng, rimY: number, rx: number): BowlLayers {
  const colour = tone(rng, rng.pick(BOWL_HUES), 8, 8, 5);
  const ry = rx * 0.26;
  const inside = `<ellipse cx="0" cy="${num(rimY)}" rx="${num(rx)}" ry="${num(ry)}" fill="${colour.dark}" ${outline()}/>`;
  const body =
    `M ${num(-rx)} ${num(rimY)} A ${num(rx)} ${num(ry)} 0 0 0 ${num(rx)} ${num(rimY)} ` +
    `C ${num(rx * 0.96)} 30 ${num(rx * 0.5)} 44 0 44 C ${num(-rx * 0.5)} 44 ${num(-rx * 0.96)} 30 ${num(-rx)} ${num(rimY)} Z`;
  const bandY = rimY + ry + 8;
  const band =
    `<path d="M ${num(-rx * 0.9)} ${num(bandY)} Q 0 ${num(bandY + ry * 1.1)} ${num(rx * 0.9)} ${num(bandY)}" ` +
    `fill="none" stroke="${colour.light}" stroke-width="4"/>`;
  const foot = `<path d="M -16 40 L -18 46 L 18 46 L 16 40 Z" fill="${colour.dark}" ${outline()}/>`;
  return { inside, front: `${foot}<path d="${body}" fill="${colour.fill}" ${outline()}/>${band}` };
}

/**
 * A plate seen at an angle: an ellipse centred at (0, cy) with a darker inner ring.
 *
 * @example
 * drawPlate(rng, 22, 48, 20);
 */
export function drawPlate(rng: Rng, cy: number, rx: number, ry: number): string {
  const colour: Tone = rng.chance(0.6)
    ? tone(rng, [45, 20, 95], 10, 10, 2)
    : tone(rng, [rng.range(0, 360), 35, 78], 0, 10, 6);
  return (
    `<ellipse cx="0" cy="${num(cy)}" rx="${num(rx)}" ry="${num(ry)}" fill="${colour.fill}" ${outline()}/>` +
    `<ellipse cx="0" cy="${num(cy - ry * 0.08)}" rx="${num(rx * 0.74)}" ry="${num(ry * 0.68)}" fill="none" stroke="${colour.dark}" stroke-width="2"/>`
  );
}

/**
 * Two or three wavy wisps rising from y = `baseY` between x = -spread and spread: hot food.
 *
 * @example
 * drawSteam(rng, -14, 20);
 */
export function drawSteam(rng: Rng, baseY: number, spread: number): string {
  const colour = hslToHex([210, 8, rng.range(60, 72)]);
  const count = rng.int(2, 3);
  let out = '';
  for (let i = 0; i < count; i++) {
    const x = count === 1 ? 0 : -spread + (2 * spread * i) / (count - 1) + rng.range(-3, 3);
    const top = baseY - rng.range(22, 30);
    const h = (baseY - top) / 2;
    out +=
      `<path d="M ${num(x)} ${num(baseY)} C ${num(x - 7)} ${num(baseY - h * 0.5)} ${num(x + 7)} ${num(baseY - h)} ${num(x)} ${num(baseY - h)} ` +
      `C ${num(x - 7)} ${num(baseY - h * 1.5)} ${num(x + 7)} ${num(top + 2)} ${num(x)} ${num(top)}" ` +
      `fill="none" stroke="${colour}" stroke-width="3.5" stroke-linecap="round" stroke-opacity="0.9"/>`;
  }
  return out;
}

/**
 * Small grain strokes scattered inside an ellipse: rice texture.
 *
 * @example
 * drawGrains(rng, 0, -10, 30, 12, 14);
 */
export function drawGrains(rng: Rng, cx: number, cy: number, rx: number, ry: number, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) {
    const angle = rng.range(0, Math.PI * 2);
    const r = Math.sqrt(rng.next());
    const x = cx + Math.cos(angle) * rx * r;
    const y = cy + Math.sin(angle) * ry * r;
    out += `<ellipse cx="${num(x)}" cy="${num(y)}" rx="3.2" ry="1.6" transform="rotate(${num(rng.range(-60, 60))} ${num(x)} ${num(y)})" fill="#dcdccf"/>`;
  }
  return out;
}
