/**
 * @module scenes/dataset-writer
 * Writes a split of generated scenes for training: each scene rendered at its own size, then
 * resized by the models' own preprocessing step and saved as an S×S RGB PNG, plus labels.jsonl.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { composeCaption } from './caption.js';
import { type Scene, generateScene } from './generate-scene.js';
import { modelResizePipeline, renderScene } from './render-scene.js';

/** One line of labels.jsonl; snake_case because Python training code reads it. */
export interface DatasetRecord {
  readonly file: string;
  readonly seed: number;
  readonly caption: string;
  /** The caption of the scene mirrored left to right (items named in reverse), for flip augmentation. */
  readonly mirrored_caption: string;
  readonly label: string;
  readonly label_index: number;
  readonly items: ReadonlyArray<{ readonly class_index: number; readonly phrase: string }>;
  readonly surface: string;
}

/** What to write: scenes with seeds seedOffset..seedOffset+count-1 into outDir/split/. */
export interface WriteDatasetOptions {
  readonly outDir: string;
  readonly split: string;
  readonly count: number;
  readonly seedOffset: number;
  /** Side of the saved square images, in pixels. */
  readonly size: number;
  /** Scenes in flight at once; sharp runs each on libuv's thread pool. Default: cores × 2. */
  readonly concurrency?: number;
  /** Called after each scene is saved, in completion order. */
  readonly onProgress?: (done: number, total: number, elapsedS: number) => void;
}

/** What was written and how fast. */
export interface WriteDatasetResult {
  readonly dir: string;
  readonly count: number;
  readonly elapsedS: number;
  readonly scenesPerSecond: number;
}

/**
 * The labels.jsonl record for `scene` saved as `file`.
 *
 * @example
 * datasetRecord(generateScene(5), '000005.png').label_index;
 */
export function datasetRecord(scene: Scene, file: string): DatasetRecord {
  return {
    file,
    seed: scene.seed,
    caption: scene.caption,
    mirrored_caption: composeCaption(scene.items.map((item) => item.phrase).reverse(), scene.surface),
    label: scene.label,
    label_index: scene.labelIndex,
    items: scene.items.map((item) => ({ class_index: item.classIndex, phrase: item.phrase })),
    surface: scene.surface,
  };
}

/**
 * File name of the i-th scene of a split of `count`: zero-padded to six digits (more when needed)
 * so names sort in seed order.
 *
 * @example
 * datasetFileName(123, 20000); // '000123.png'
 */
export function datasetFileName(index: number, count: number): string {
  return `${String(index).padStart(Math.max(6, String(count - 1).length), '0')}.png`;
}

/**
 * Renders and saves the split. labels.jsonl lists the scenes in index order whatever order they
 * finish in, so line i describes file i.
 *
 * @example
 * await writeDataset({ outDir: '.cache/scenes', split: 'train', count: 16000, seedOffset: 0, size: 64 });
 */
export async function writeDataset(options: WriteDatasetOptions): Promise<WriteDatasetResult> {
  const { outDir, split, count, seedOffset, size } = options;
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (!Number.isSafeInteger(seedOffset)) throw new RangeError(`seed offset must be an integer, got ${seedOffset}`);
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  const concurrency = Math.max(1, options.concurrency ?? availableParallelism() * 2);
  const dir = join(outDir, split);
  await mkdir(dir, { recursive: true });

  const labels = createWriteStream(join(dir, 'labels.jsonl'));
  const pending = new Map<number, string>();
  let nextLine = 0;
  const started = performance.now();
  let done = 0;
  let next = 0;

  const writeReadyLines = () => {
    let chunk = '';
    while (pending.has(nextLine)) {
      chunk += pending.get(nextLine);
      pending.delete(nextLine++);
    }
    if (chunk) labels.write(chunk);
  };

  let failed = false;
  const worker = async () => {
    while (next < count && !failed) {
      const index = next++;
      const scene = generateScene(seedOffset + index);
      const file = datasetFileName(index, count);
      // Rendered to PNG, then resized from the PNG, exactly as the gateway treats an upload. Not
      // one pipeline: sharp would render the SVG at reduced scale (shrink-on-load). Not raw
      // pixels: libvips resizes those through a path that differs by ±1 here and there.
      const png = await renderScene(scene, 'png', { pngCompressionLevel: 0 });
      await modelResizePipeline(png, size).png().toFile(join(dir, file));
      pending.set(index, `${JSON.stringify(datasetRecord(scene, file))}\n`);
      writeReadyLines();
      done++;
      options.onProgress?.(done, count, (performance.now() - started) / 1000);
    }
  };
  const guarded = async () => {
    try {
      await worker();
    } catch (error) {
      // Stop the other workers from starting new scenes; labels.jsonl closes after they settle.
      failed = true;
      throw error;
    }
  };

  const workers = Array.from({ length: Math.min(concurrency, Math.max(1, count)) }, guarded);
  const outcomes = await Promise.allSettled(workers);
  labels.end();
  await once(labels, 'close');
  const failure = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failure) throw (failure as PromiseRejectedResult).reason;
  const elapsedS = (performance.now() - started) / 1000;
  return { dir, count, elapsedS, scenesPerSecond: count / Math.max(elapsedS, 1e-9) };
}
