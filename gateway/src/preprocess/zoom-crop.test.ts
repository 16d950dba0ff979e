/**
 * @module preprocess/zoom-crop.test
 * The zoom_crop profile on gradient images whose every pixel says where it came from (red = 2·x,
 * green = 2·y of the model-size image): the output holds the 150 % zoom at the reported crop,
 * black padding around it, channels in order, and the crop comes from the seed alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CROP_SIDE, ZOOM_FACTOR, zoomCrop } from './zoom-crop.js';

const BLUE = 77;

/** size×size RGB bytes: red 2·x, green 2·y, blue constant (sizes up to 128). */
function gradient(size: number): Buffer {
  const rgb = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) rgb.set([2 * x, 2 * y, BLUE], (y * size + x) * 3);
  return rgb;
}

/**
 * Checks `out` against the zoomed gradient: inside the padded square, pixel (i, j) is zoomed pixel
 * (left + i, top + j), i.e. source x = (left + i + 0.5) · size / zoomed − 0.5 (libvips' pixel
 * centres), within 2 levels; outside it, black.
 */
function assertZoomedView(out: Buffer, size: number, crop: { left: number; top: number; side: number }): void {
  const zoomed = Math.round(size * ZOOM_FACTOR);
  const pad = Math.floor((size - crop.side) / 2);
  const source = (z: number) => Math.max(0, (z + 0.5) * (size / zoomed) - 0.5);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const [r, g, b] = out.subarray((y * size + x) * 3, (y * size + x) * 3 + 3);
      const [i, j] = [x - pad, y - pad];
      if (i < 0 || j < 0 || i >= crop.side || j >= crop.side) {
        assert.deepEqual([r, g, b], [0, 0, 0], `padding at (${x}, ${y})`);
        continue;
      }
      const expected = [2 * source(crop.left + i), 2 * source(crop.top + j), BLUE];
      assert.ok(
        [r!, g!, b!].every((v, c) => Math.abs(v - expected[c]!) <= 2),
        `(${x}, ${y}) with crop ${JSON.stringify(crop)}: [${[r, g, b]}] vs [${expected.map(Math.round)}]`,
      );
    }
  }
}

describe('zoomCrop', () => {
  it('shows the zoomed image at the reported 100 px crop, padded with black to the model size', async () => {
    for (const size of [120, 121]) {
      for (const seed of [1, 2, 3, 42]) {
        const { rgb, crop } = await zoomCrop(gradient(size), size, seed);
        assert.equal(rgb.length, size * size * 3);
        assert.equal(crop.side, CROP_SIDE);
        const zoomed = Math.round(size * ZOOM_FACTOR);
        assert.ok(crop.left >= 0 && crop.top >= 0 && crop.left + crop.side <= zoomed && crop.top + crop.side <= zoomed, JSON.stringify(crop));
        assertZoomedView(rgb, size, crop);
      }
    }
  });

  it('crops the whole model size, unpadded, when the model input is under 100 px', async () => {
    const { rgb, crop } = await zoomCrop(gradient(64), 64, 7);
    assert.equal(crop.side, 64);
    assertZoomedView(rgb, 64, crop);
  });

  it('draws every crop position the zoomed image allows, left and top independently', async () => {
    // 64 px zoomed to 96 with a 64 px crop: left and top in 0..32, all 33 reached over 300 seeds.
    const lefts = new Set<number>();
    const tops = new Set<number>();
    let diagonal = 0;
    const blank = Buffer.alloc(64 * 64 * 3);
    for (let seed = 0; seed < 300; seed++) {
      const { crop } = await zoomCrop(blank, 64, seed);
      lefts.add(crop.left);
      tops.add(crop.top);
      if (crop.left === crop.top) diagonal++;
    }
    const all = Array.from({ length: 33 }, (_, i) => i);
    assert.deepEqual([...lefts].sort((a, b) => a - b), all);
    assert.deepEqual([...tops].sort((a, b) => a - b), all);
    assert.ok(diagonal < 30, `${diagonal} of 300 crops on the diagonal`);
  });

  it('gives the same view for the same seed, and another for another seed', async () => {
    const image = gradient(120);
    const [a, b, c] = await Promise.all([zoomCrop(image, 120, 9), zoomCrop(image, 120, 9), zoomCrop(image, 120, 10)]);
    assert.deepEqual(a.crop, b.crop);
    assert.ok(a.rgb.equals(b.rgb));
    assert.notDeepEqual(a.crop, c.crop);
    assert.ok(!a.rgb.equals(c.rgb));
  });
});
