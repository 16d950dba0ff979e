/**
 * @module scenes/surfaces
 * The backdrop: a wall colour above and a table of one of five kinds below, each drawn so the
 * kinds stay tellable apart even at 64×64 (grain lines for wood, veins for marble, plain colours).
 */
import type { Rng } from './prng.js';
import { type Hsl, hslToHex, jitter, num } from './svg-kit.js';

/** The table kinds, as the caption names them ("on a wooden table"). */
export const SURFACE_KINDS = ['wooden', 'marble', 'blue', 'white', 'green'] as const;

/** One table kind. */
export type SurfaceKind = (typeof SURFACE_KINDS)[number];

const TABLE_BASE: Record<SurfaceKind, { base: Hsl; spread: readonly [number, number, number] }> = {
  wooden: { base: [28, 50, 45], spread: [6, 10, 8] },
  marble: { base: [30, 6, 88], spread: [30, 4, 2] },
  blue: { base: [212, 60, 48], spread: [8, 10, 6] },
  white: { base: [40, 20, 97], spread: [20, 15, 1.5] },
  green: { base: [135, 45, 38], spread: [10, 10, 6] },
};

/** True when a wall of hue/lightness `wall` would blend into this table. */
function clashes(kind: SurfaceKind, [h, , l]: Hsl): boolean {
  switch (kind) {
    case 'white':
    case 'marble':
      return l > 82;
    case 'blue':
      return h > 180 && h < 250;
    case 'green':
      return h > 80 && h < 180;
    case 'wooden':
      return h > 15 && h < 45 && l < 75;
  }
}

function wallColour(rng: Rng, kind: SurfaceKind): Hsl {
  let wall: Hsl = [0, 0, 0];
  // A few tries are plenty; the last one is kept either way so the stream length stays bounded.
  for (let attempt = 0; attempt < 8; attempt++) {
    wall = [rng.range(0, 360), rng.range(15, 45), rng.range(68, 90)];
    if (!clashes(kind, wall)) break;
  }
  return wall;
}

function woodGrain(rng: Rng, width: number, height: number, top: number, base: Hsl, unit: number): string {
  const dark = hslToHex([base[0], base[1], base[2] - 14]);
  const darker = hslToHex([base[0], base[1], base[2] - 22]);
  let out = '';
  const lines = rng.int(7, 12);
  for (let i = 0; i < lines; i++) {
    const y = top + ((i + rng.range(0.2, 0.8)) / lines) * (height - top);
    const a = rng.range(-1, 1) * unit * 0.025;
    const b = rng.range(-1, 1) * unit * 0.025;
    out +=
      `<path d="M 0 ${num(y)} C ${num(width / 3)} ${num(y + a)} ${num((2 * width) / 3)} ${num(y - a)} ${num(width)} ${num(y + b)}" ` +
      `fill="none" stroke="${dark}" stroke-width="${num(Math.max(1, unit * rng.range(0.004, 0.008)))}" stroke-opacity="0.85"/>`;
  }
  const seams = rng.int(1, 3);
  for (let i = 1; i <= seams; i++) {
    const y = top + (i / (seams + 1)) * (height - top);
    out += `<path d="M 0 ${num(y)} L ${width} ${num(y)}" stroke="${darker}" stroke-width="${num(Math.max(1.2, unit * 0.012))}"/>`;
  }
  const knots = rng.int(0, 2);
  for (let i = 0; i < knots; i++) {
    out += `<ellipse cx="${num(rng.range(0, width))}" cy="${num(rng.range(top, height))}" rx="${num(unit * 0.03)}" ry="${num(unit * 0.01)}" fill="none" stroke="${dark}" stroke-width="${num(Math.max(1, unit * 0.005))}"/>`;
  }
  return out;
}

function marbleVeins(rng: Rng, width: number, height: number, top: number, unit: number): string {
  let out = '';
  const veins = rng.int(4, 7);
  for (let i = 0; i < veins; i++) {
    const colour = hslToHex([rng.range(200, 230), rng.range(3, 10), rng.range(42, 60)]);
    let x = rng.range(-0.1, 0.4) * width;
    let y = rng.range(top, height);
    const dx = width / rng.int(6, 10);
    const points: Array<[number, number]> = [[x, y]];
    while (x < width) {
      x += dx * rng.range(0.6, 1.2);
      y += rng.range(-0.5, 0.5) * (height - top) * 0.35;
      // Bounce off the table's edges so every vein stays visible on the table.
      if (y < top) y = Math.min(height, 2 * top - y);
      if (y > height) y = Math.max(top, 2 * height - y);
      points.push([x, y]);
    }
    // Quadratic curves through the midpoints: veins meander smoothly instead of zig-zagging.
    let d = `M ${num(points[0]![0])} ${num(points[0]![1])}`;
    for (let k = 1; k < points.length - 1; k++) {
      const [px, py] = points[k]!;
      const [qx, qy] = points[k + 1]!;
      d += ` Q ${num(px)} ${num(py)} ${num((px + qx) / 2)} ${num((py + qy) / 2)}`;
    }
    const [lx, ly] = points[points.length - 1]!;
    d += ` L ${num(lx)} ${num(ly)}`;
    out += `<path d="${d}" fill="none" stroke="${colour}" stroke-width="${num(Math.max(1, unit * rng.range(0.004, 0.012)))}" stroke-linejoin="round" stroke-opacity="${num(rng.range(0.7, 0.95))}"/>`;
  }
  return out;
}

/**
 * Wall and table for a `width`×`height` image whose table top edge is at y = `tableTop`.
 *
 * @example
 * drawBackdrop(rng, 'marble', 640, 480, 220);
 */
export function drawBackdrop(rng: Rng, kind: SurfaceKind, width: number, height: number, tableTop: number): string {
  const unit = Math.sqrt(width * height);
  const wall = wallColour(rng, kind);
  const { base, spread } = TABLE_BASE[kind];
  const table = jitter(rng, base, ...spread);
  const edge = hslToHex([table[0], table[1], table[2] - (kind === 'white' || kind === 'marble' ? 22 : 14)]);
  let out =
    `<rect width="${width}" height="${height}" fill="${hslToHex(wall)}"/>` +
    `<rect y="${num(tableTop)}" width="${width}" height="${num(height - tableTop)}" fill="${hslToHex(table)}"/>`;
  // Grain and veins wander; the clip keeps them off the wall.
  const pattern =
    kind === 'wooden'
      ? woodGrain(rng, width, height, tableTop, table, unit)
      : kind === 'marble'
        ? marbleVeins(rng, width, height, tableTop, unit)
        : '';
  if (pattern) {
    out +=
      `<clipPath id="s-table"><rect y="${num(tableTop)}" width="${width}" height="${num(height - tableTop)}"/></clipPath>` +
      `<g clip-path="url(#s-table)">${pattern}</g>`;
  }
  out += `<path d="M 0 ${num(tableTop)} L ${width} ${num(tableTop)}" stroke="${edge}" stroke-width="${num(Math.max(1, unit * 0.008))}"/>`;
  return out;
}

/**
 * Uneven lighting over the whole picture: a translucent light-to-dark ramp from one side to the
 * opposite one plus a few faint specks, so models do not learn from perfectly flat colours.
 *
 * The ramp is 24 flat, axis-aligned bands on whole pixels rather than an SVG gradient or a
 * rotated ramp: librsvg blends those through its slow general path, and at dataset scale
 * (images up to 2000×3333) they cost more than everything else in the picture together.
 *
 * @example
 * drawLighting(rng, 640, 480);
 */
export function drawLighting(rng: Rng, width: number, height: number): string {
  const side = rng.pick(['top', 'bottom', 'left', 'right'] as const);
  const light = rng.range(0, 0.3);
  const dark = rng.range(0, 0.25);
  const vertical = side === 'top' || side === 'bottom';
  const length = vertical ? height : width;
  const bands = 24;
  let out = '';
  for (let k = 0; k < bands; k++) {
    const start = Math.round((k * length) / bands);
    const end = Math.round(((k + 1) * length) / bands);
    if (end <= start) continue;
    // t runs from the lit side (0) to the shaded side (1).
    const t = (side === 'top' || side === 'left' ? k + 0.5 : bands - k - 0.5) / bands;
    const opacity = t < 0.5 ? light * (1 - 2 * t) : dark * (2 * t - 1);
    const box = vertical
      ? `y="${start}" width="${width}" height="${end - start}"`
      : `x="${start}" width="${end - start}" height="${height}"`;
    out += `<rect ${box} fill="${t < 0.5 ? '#ffffff' : '#000000'}" fill-opacity="${num(opacity, 3)}"/>`;
  }
  // Specks share a few paths (one per colour and opacity level): librsvg's cost per element
  // dominates small images, and dozens of separate circles doubled their render time.
  const unit = Math.max(width, height);
  const specks = new Map<string, string>();
  const count = rng.int(15, 50);
  for (let i = 0; i < count; i++) {
    const x = rng.range(0, width);
    const y = rng.range(0, height);
    const r = Math.max(0.6, unit * rng.range(0.002, 0.008));
    const key = `${rng.chance(0.5) ? '#000000' : '#ffffff'} ${rng.pick(['0.08', '0.15', '0.25'])}`;
    const circle = `M ${num(x - r)} ${num(y)} a ${num(r)} ${num(r)} 0 1 0 ${num(2 * r)} 0 a ${num(r)} ${num(r)} 0 1 0 ${num(-2 * r)} 0 Z`;
    specks.set(key, `${specks.get(key) ?? ''}${circle} `);
  }
  for (const [key, d] of [...specks].sort(([a], [b]) => a.localeCompare(b))) {
    const [fill, opacity] = key.split(' ');
    out += `<path d="${d.trim()}" fill="${fill}" fill-opacity="${opacity}"/>`;
  }
  return out;
}
