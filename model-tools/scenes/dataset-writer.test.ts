/**
 * @module scenes/dataset-writer.test
 * The writer and its CLI produce N images and N label lines that agree with the generator and
 * with the models' resize.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { parseCaption } from './caption.js';
import { type DatasetRecord, datasetFileName, writeDataset } from './dataset-writer.js';
import { generateScene } from './generate-scene.js';
import { renderScene, resizeForModel } from './render-scene.js';

const run = promisify(execFile);

async function readLabels(dir: string): Promise<DatasetRecord[]> {
  const text = await readFile(join(dir, 'labels.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as DatasetRecord);
}

describe('writeDataset', () => {
  let out = '';
  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'scenes-'));
  });
  after(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('writes N square RGB PNGs and N label lines in seed order', async () => {
    const progress: number[] = [];
    const result = await writeDataset({
      outDir: out,
      split: 'train',
      count: 7,
      seedOffset: 500,
      size: 32,
      concurrency: 3,
      onProgress: (done) => progress.push(done),
    });
    assert.equal(result.count, 7);
    assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7]);
    const dir = join(out, 'train');
    const files = (await readdir(dir)).sort();
    assert.deepEqual(files, [...Array.from({ length: 7 }, (_, i) => datasetFileName(i, 7)), 'labels.jsonl'].sort());
    const labels = await readLabels(dir);
    assert.equal(labels.length, 7);
    for (const [i, record] of labels.entries()) {
      const scene = generateScene(500 + i);
      assert.deepEqual(record, {
        file: `00000${i}.png`,
        seed: 500 + i,
        caption: scene.caption,
        mirrored_caption: record.mirrored_caption,
        label: scene.label,
        label_index: scene.labelIndex,
        items: scene.items.map((item) => ({ class_index: item.classIndex, phrase: item.phrase })),
        surface: scene.surface,
      });
      // Mirroring reverses the left-to-right order the grammar names items in, nothing else.
      const mirrored = parseCaption(record.mirrored_caption);
      assert.deepEqual(mirrored?.phrases, scene.items.map((item) => item.phrase).reverse());
      assert.equal(mirrored?.surface, scene.surface);
      const image = sharp(join(dir, record.file));
      const meta = await image.metadata();
      assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 32, 32, 3]);
      // The saved pixels are exactly what the models' preprocessing makes of the full render.
      const expected = await resizeForModel(await renderScene(scene, 'png'), 32);
      assert.ok((await image.raw().toBuffer()).equals(expected), record.file);
    }
  });

  it('writes an empty split for count 0', async () => {
    await writeDataset({ outDir: out, split: 'empty', count: 0, seedOffset: 0, size: 8 });
    assert.deepEqual(await readdir(join(out, 'empty')), ['labels.jsonl']);
  });

  it('stops and reports the first failure, with labels.jsonl closed', async () => {
    let calls = 0;
    await assert.rejects(
      writeDataset({
        outDir: out,
        split: 'broken',
        count: 50,
        seedOffset: 0,
        size: 8,
        concurrency: 2,
        onProgress: () => {
          if (++calls === 3) throw new Error('disk full');
        },
      }),
      /disk full/,
    );
    const pngs = (await readdir(join(out, 'broken'))).filter((f) => f.endsWith('.png'));
    assert.ok(pngs.length < 10, `${pngs.length} scenes written after the failure`);
    assert.ok((await readLabels(join(out, 'broken'))).length <= pngs.length);
  });

  it('names files with six digits, more when the split needs them', () => {
    assert.equal(datasetFileName(123, 20_000), '000123.png');
    assert.equal(datasetFileName(5, 2_000_000), '0000005.png');
  });

  it('runs as a CLI and reports throughput', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'model-tools/scenes/write-dataset.ts', '--out', out, '--split', 'cli', '--count', '4', '--seed-offset', '1000000', '--size', '16'],
      { cwd: join(import.meta.dirname, '..', '..') },
    );
    assert.match(stdout, /wrote 4 scenes \(16x16\) .* scenes\/s/);
    const labels = await readLabels(join(out, 'cli'));
    assert.deepEqual(labels.map((r) => r.seed), [1_000_000, 1_000_001, 1_000_002, 1_000_003]);
    assert.equal((await readdir(join(out, 'cli'))).filter((f) => f.endsWith('.png')).length, 4);
  });

  it('fails the CLI with usage on bad arguments', async () => {
    await assert.rejects(
      run(process.execPath, ['--import', 'tsx', 'model-tools/scenes/write-dataset.ts', '--out', out, '--split', 'x', '--count', 'lots'], {
        cwd: join(import.meta.dirname, '..', '..'),
      }),
      (error: { code?: number; stderr?: string }) => error.code === 2 && /--count must be an integer/.test(error.stderr ?? ''),
    );
  });
});
