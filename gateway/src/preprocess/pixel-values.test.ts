/**
 * @module preprocess/pixel-values.test
 * writePixelValues on bytes worked out by hand: (v · rescale − mean) / std per channel, channels
 * first, written at its batch index and nowhere else.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { writePixelValues } from './pixel-values.js';

const N = { rescaleFactor: 1 / 255, mean: [0.5, 0.25, 0] as const, std: [0.5, 0.25, 2] as const };

describe('writePixelValues', () => {
  it('normalises each channel with its own mean and std, laid out channels first', () => {
    // Two pixels, HWC: (255, 0, 51) and (0, 255, 102).
    const out = writePixelValues(Uint8Array.of(255, 0, 51, 0, 255, 102), 2, N, new Float32Array(6));
    const expected = [(1 - 0.5) / 0.5, (0 - 0.5) / 0.5, (0 - 0.25) / 0.25, (1 - 0.25) / 0.25, 0.2 / 2, 0.4 / 2];
    out.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-6, `value ${i}: ${v} vs ${expected[i]}`));
  });

  it('writes image `index` of a batch and leaves every other value as it was', () => {
    const rgb = Uint8Array.of(10, 20, 30, 40, 50, 60);
    for (const index of [0, 1, 2]) {
      const batch = new Float32Array(3 * 6).fill(7);
      const returned = writePixelValues(rgb, 2, N, batch, index);
      assert.equal(returned, batch);
      batch.forEach((v, i) => {
        const inside = i >= index * 6 && i < (index + 1) * 6;
        assert.ok(inside ? v !== 7 && Number.isFinite(v) : v === 7, `index ${index}, value ${i}: ${v}`);
      });
    }
  });

  it('refuses RGB bytes that are not 3 per pixel', () => {
    assert.throws(() => writePixelValues(new Uint8Array(5), 2, N, new Float32Array(6)), { message: 'expected 6 RGB bytes, got 5' });
  });
});
