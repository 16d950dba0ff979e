/**
 * @module scenes/drawings/seafood
 * Class 8, seafood: a fish, a shrimp and a crab.
 */
import type { Rng } from '../prng.js';
import { type Hsl, num, outline, outlinedStroke, tone } from '../svg-kit.js';
import { type Drawing, defineDrawing } from './drawing.js';

const FISH_COLOURS: readonly Hsl[] = [[205, 55, 55], [25, 85, 58], [210, 12, 68], [350, 60, 60], [170, 45, 50]];

function fish(rng: Rng): string {
  const body = tone(rng, rng.pick(FISH_COLOURS), 6, 8, 5);
  let scales = '';
  for (const [x, y] of [[0, -6], [10, 2], [0, 10], [-8, 2], [12, -10], [18, 8]] as const) {
    scales += `<path d="M ${x} ${y - 4} Q ${x + 5} ${y} ${x} ${y + 4}" fill="none" stroke="${body.dark}" stroke-width="1.8"/>`;
  }
  return (
    `<path d="M 28 0 L 48 -22 Q 42 0 48 22 Z" fill="${body.dark}" ${outline()}/>` +
    `<path d="M -6 -20 Q 6 -36 20 -18 Z" fill="${body.dark}" ${outline()}/>` +
    `<path d="M 0 18 Q 8 30 16 18 Z" fill="${body.dark}" ${outline()}/>` +
    `<path d="M -46 0 C -32 -30 16 -30 32 0 C 16 30 -32 30 -46 0 Z" fill="${body.fill}" ${outline()}/>` +
    `<path d="M -36 4 C -20 18 10 18 24 6" fill="none" stroke="${body.light}" stroke-width="3"/>` +
    scales +
    `<path d="M -18 -13 Q -10 0 -18 13" fill="none" stroke="${body.dark}" stroke-width="2.5"/>` +
    `<circle cx="-30" cy="-5" r="5.5" fill="#ffffff" ${outline(2)}/><circle cx="-31" cy="-5" r="2.6" fill="#1b1b1b"/>` +
    `<path d="M -46 0 L -40 2" ${outline(2)}/>`
  );
}

function shrimp(rng: Rng): string {
  const shell = tone(rng, [14, 85, 62], 5, 8, 5);
  // Overlapping shell segments on a C-shaped arc, head at the upper left, tail curled under.
  const count = 8;
  const arc = 24;
  const at = (i: number) => {
    const a = ((-140 + (i * 230) / (count - 1)) * Math.PI) / 180;
    return { a, x: Math.cos(a) * arc, y: Math.sin(a) * arc + 4 };
  };
  const segments: string[] = [];
  let legs = '';
  for (let i = count - 1; i >= 0; i--) {
    const { x, y } = at(i);
    const r = 17 - i * 1.3;
    segments.push(`<circle cx="${num(x)}" cy="${num(y)}" r="${num(r)}" fill="${i === 0 ? shell.dark : shell.fill}" ${outline(2)}/>`);
    if (i > 0 && i < 6) legs += `<path d="M ${num(x * 0.5)} ${num(y * 0.5 + 2)} L ${num(x * 0.15)} ${num(y * 0.15 + 6)}" stroke="${shell.dark}" stroke-width="2.2" stroke-linecap="round"/>`;
  }
  const tail = at(count - 1);
  // The tail fan points along the arc's tangent past its last segment.
  const tx = -Math.sin(tail.a);
  const ty = Math.cos(tail.a);
  const fan = (k: number) => `${num(tail.x + tx * 20 - ty * 9 * k)},${num(tail.y + ty * 20 + tx * 9 * k)}`;
  const head = at(0);
  return (
    `<polygon points="${num(tail.x)},${num(tail.y)} ${fan(1)} ${num(tail.x + tx * 14)},${num(tail.y + ty * 14)} ${fan(-1)}" fill="${shell.dark}" ${outline(2)}/>` +
    legs +
    segments.join('') +
    `<path d="M ${num(head.x - 8)} ${num(head.y - 10)} Q ${num(head.x - 22)} -44 ${num(head.x + 8)} -48" fill="none" stroke="${shell.dark}" stroke-width="1.8"/>` +
    `<path d="M ${num(head.x - 4)} ${num(head.y - 12)} Q ${num(head.x - 6)} -40 ${num(head.x + 24)} -44" fill="none" stroke="${shell.dark}" stroke-width="1.8"/>` +
    `<circle cx="${num(head.x - 5)}" cy="${num(head.y - 3)}" r="2.6" fill="#1b1b1b"/>`
  );
}

function pincer(x: number, y: number, r: number, notchDeg: number, fill: string): string {
  // A round claw with a wedge cut out: the classic cartoon pincer.
  const points: string[] = [];
  const notch = (notchDeg * Math.PI) / 180;
  points.push(`${num(x + Math.cos(notch) * r * 0.15)},${num(y + Math.sin(notch) * r * 0.15)}`);
  for (let k = 0; k <= 12; k++) {
    const a = notch + ((28 + (k * (360 - 56)) / 12) * Math.PI) / 180;
    points.push(`${num(x + Math.cos(a) * r)},${num(y + Math.sin(a) * r)}`);
  }
  return `<polygon points="${points.join(' ')}" fill="${fill}" ${outline(2)}/>`;
}

function crab(rng: Rng): string {
  const shell = tone(rng, [6, 75, 50], 6, 8, 5);
  let legs = '';
  for (const side of [-1, 1]) {
    for (let i = 0; i < 3; i++) {
      const y = 10 + i * 8;
      legs += outlinedStroke(
        `M ${side * 24} ${y} L ${side * 40} ${y - 6 + i * 2} L ${side * 46} ${y + 8 + i * 2}`,
        shell.fill,
        4.5,
        2,
      );
    }
  }
  return (
    legs +
    outlinedStroke('M -18 4 L -30 -18', shell.fill, 6, 2) +
    outlinedStroke('M 18 4 L 30 -18', shell.fill, 6, 2) +
    pincer(-32, -30, 13, -60, shell.fill) +
    pincer(32, -30, 13, -120, shell.fill) +
    `<path d="M -7 -4 L -9 -16" ${outline(2.5)}/><path d="M 7 -4 L 9 -16" ${outline(2.5)}/>` +
    `<ellipse cx="0" cy="14" rx="32" ry="21" fill="${shell.fill}" ${outline()}/>` +
    `<ellipse cx="-10" cy="6" rx="8" ry="4" fill="${shell.light}" fill-opacity="0.7"/>` +
    `<circle cx="-9" cy="-18" r="5" fill="#ffffff" ${outline(2)}/><circle cx="-9" cy="-18" r="2.3" fill="#1b1b1b"/>` +
    `<circle cx="9" cy="-18" r="5" fill="#ffffff" ${outline(2)}/><circle cx="9" cy="-18" r="2.3" fill="#1b1b1b"/>` +
    `<path d="M -8 20 Q 0 26 8 20" fill="none" ${outline(2)}/>`
  );
}

/** Seafood drawings, class index 8. */
export const SEAFOOD_DRAWINGS: readonly Drawing[] = [
  defineDrawing('seafood/fish', 8, 'a fish', fish, [0, 19]),
  defineDrawing('seafood/shrimp', 8, 'a shrimp', shrimp, [0, 6]),
  defineDrawing('seafood/crab', 8, 'a crab', crab, [0, 3]),
];
