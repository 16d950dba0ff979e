/**
 * @module scenes/render-scene.test
 * Rendering is byte-for-byte repeatable, decodes at the scene's size, and the model resize
 * gives size·size·3 bytes whichever way the scene reaches it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { generateScene } from './generate-scene.js';
import { modelResizePipeline, renderScene, resizeForModel } from './render-scene.js';

// Small, large and extreme-aspect scenes; every drawing is exercised by the seeds' variety.
const SEEDS = [0, 1, 2, 4, 7, 19, 30, 36];

describe('renderScene', () => {
  it('renders the same seed to identical PNG bytes, and different seeds differently', async () => {
    const a = await renderScene(generateScene(5), 'png');
    const b = await renderScene(generateScene(5), 'png');
    const c = await renderScene(generateScene(6), 'png');
    assert.ok(a.equals(b));
    assert.ok(!a.equals(c));
  });

  it('decodes at the scene width and height, as RGB, in both formats', async () => {
    for (const seed of SEEDS) {
      const scene = generateScene(seed);
      for (const format of ['png', 'jpeg'] as const) {
        const meta = await sharp(await renderScene(scene, format)).metadata();
        assert.equal(meta.format, format);
        assert.equal(meta.width, scene.width, `seed ${seed} ${format}`);
        assert.equal(meta.height, scene.height, `seed ${seed} ${format}`);
        assert.equal(meta.channels, 3);
      }
    }
  });

  it('draws opaque scenes, so dropping alpha equals flattening onto white', async () => {
    for (const seed of SEEDS) {
      const { channels } = await sharp(Buffer.from(generateScene(seed).svg)).stats();
      assert.equal(channels[3]?.min, 255, `seed ${seed} has transparent pixels`);
    }
  });
});

describe('resizeForModel', () => {
  it('returns size*size*3 bytes for PNG and JPEG input', async () => {
    const scene = generateScene(3);
    for (const size of [64, 37, 224]) {
      assert.equal((await resizeForModel(await renderScene(scene, 'png'), size)).length, size * size * 3);
      assert.equal((await resizeForModel(await renderScene(scene, 'jpeg'), size)).length, size * size * 3);
    }
  });

  it('flattens transparency onto white and converts greyscale to RGB', async () => {
    const clear = await sharp({ create: { width: 10, height: 6, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer();
    assert.ok((await resizeForModel(clear, 4)).every((byte) => byte === 255));
    const grey = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    assert.equal((await resizeForModel(grey, 4)).length, 4 * 4 * 3);
  });

  it('gives the same bytes at any PNG compression level, and as the pipeline encoded', async () => {
    for (const seed of SEEDS) {
      const scene = generateScene(seed);
      const reference = await resizeForModel(await renderScene(scene, 'png'), 64);
      const fast = await renderScene(scene, 'png', { pngCompressionLevel: 0 });
      assert.ok(reference.equals(await resizeForModel(fast, 64)), `seed ${seed}`);
      const saved = await modelResizePipeline(fast, 64).png().toBuffer();
      assert.ok(reference.equals(await sharp(saved).raw().toBuffer()), `seed ${seed}`);
    }
  });

  it('rejects a size that is not a positive integer', async () => {
    const png = await renderScene(generateScene(1), 'png');
    await assert.rejects(resizeForModel(png, 0), RangeError);
    await assert.rejects(resizeForModel(png, 2.5), RangeError);
  });
});
