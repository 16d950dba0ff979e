/**
 * @module perf/k6/make-images
 * Writes the upload images the k6 script (perf/k6/caption.ts) sends: generated food scenes
 * (model-tools/scenes) rendered as JPEG, as photos are uploaded, into perf/k6/images/.
 *
 * Scenes are generated at their own sizes (64 to 2000 px wide); wider ones are regenerated at most
 * MAX_WIDTH px wide with their aspect ratio kept (same seed, so the same items and caption), so
 * the committed images stay small (all together under MAX_TOTAL_BYTES) while their sizes still
 * vary. The same seeds always give the same bytes for a given sharp/libvips.
 *
 * Usage: npm run perf:k6-images [-- --count 8 --out perf/k6/images]
 * The k6 script opens `scene-0.jpg` … `scene-{count-1}.jpg`; keep `--count` equal to its IMAGE_COUNT.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generateScene, renderScene } from '../../model-tools/scenes/index.js';

/** Widest image written, in pixels. */
export const MAX_WIDTH = 800;
/** All images together stay below this. */
export const MAX_TOTAL_BYTES = 300 * 1024;
/** Seeds of the scenes: FIRST_SEED, FIRST_SEED+1, … */
export const FIRST_SEED = 7_100_000;

export interface WrittenImage {
  readonly file: string;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
  readonly label: string;
  readonly caption: string;
}

/** Renders `count` scenes as JPEG into `dir` (its old scene-*.jpg files removed first). */
export async function makeImages(count: number, dir: string): Promise<WrittenImage[]> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (/^scene-\d+\.jpg$/.test(f)) rmSync(join(dir, f));
  const written: WrittenImage[] = [];
  for (let i = 0; i < count; i++) {
    const seed = FIRST_SEED + i;
    let scene = generateScene(seed);
    if (scene.width > MAX_WIDTH) {
      scene = generateScene(seed, { width: MAX_WIDTH, height: Math.max(8, Math.round((MAX_WIDTH * scene.height) / scene.width)) });
    }
    const jpeg = await renderScene(scene, 'jpeg');
    const file = `scene-${i}.jpg`;
    writeFileSync(join(dir, file), jpeg);
    written.push({ file, seed, width: scene.width, height: scene.height, bytes: jpeg.length, label: scene.label, caption: scene.caption });
  }
  const total = written.reduce((a, w) => a + w.bytes, 0);
  if (total > MAX_TOTAL_BYTES) throw new Error(`images total ${total} bytes, above ${MAX_TOTAL_BYTES}; lower MAX_WIDTH or --count`);
  // For people reading the results: which scene each file is and what a good caption says.
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(written, null, 2)}\n`);
  return written;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { count: { type: 'string', default: '8' }, out: { type: 'string', default: 'perf/k6/images' } } });
  const written = await makeImages(Number(values.count), values.out!);
  for (const w of written) console.log(`${w.file}  ${w.width}x${w.height}  ${w.bytes} B  ${w.label}: ${w.caption}`);
  console.log(`${written.length} images, ${written.reduce((a, w) => a + w.bytes, 0)} bytes in ${values.out}`);
}
