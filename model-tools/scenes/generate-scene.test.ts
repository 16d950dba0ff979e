/**
 * @module scenes/generate-scene.test
 * Scenes are a pure function of the seed, captions follow the grammar and the picture, the
 * label is the clearly largest item, and every class, drawing, surface and size is reachable.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CAPTION_TEMPLATES, parseCaption } from './caption.js';
import { DRAWINGS } from './drawings/index.js';
import { FOOD_CLASSES } from './food-classes.js';
import { type Scene, SCENE_ASPECT_RANGE, SCENE_WIDTH_RANGE, generateScene } from './generate-scene.js';
import { SURFACE_KINDS } from './surfaces.js';

const SEEDS = 3000;

describe('generateScene', () => {
  let scenes: Scene[] = [];
  before(() => {
    scenes = Array.from({ length: SEEDS }, (_, seed) => generateScene(seed));
  });

  it('is deterministic: the same seed gives the same scene', () => {
    for (const seed of [0, 1, 12345, 2_000_000, -7]) assert.deepEqual(generateScene(seed), generateScene(seed));
  });

  it('gives different scenes for different seeds', () => {
    assert.equal(new Set(scenes.map((s) => s.svg)).size, SEEDS);
  });

  it('names every item, left to right, in exactly one template', () => {
    const counts = [0, 0, 0];
    for (const scene of scenes) {
      const xs = scene.items.map((item) => item.x);
      assert.deepEqual(xs, [...xs].sort((a, b) => a - b), `seed ${scene.seed}: items not left to right`);
      const parsed = parseCaption(scene.caption);
      assert.ok(parsed, `seed ${scene.seed}: "${scene.caption}" is not in the grammar`);
      assert.deepEqual(parsed.phrases, scene.items.map((item) => item.phrase));
      assert.equal(parsed.surface, scene.surface);
      const matching = CAPTION_TEMPLATES.filter((template) => {
        const pattern = template
          .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
          .replace(/\{\d\}/g, '(.+)')
          .replace('{surface}', '([a-z]+)');
        return new RegExp(`^${pattern}$`).test(scene.caption) && (template.match(/\{\d\}/g) ?? []).length === scene.items.length;
      });
      assert.equal(matching.length, 1, `seed ${scene.seed}: ${matching.length} templates match`);
      counts[scene.items.length - 1]!++;
    }
    for (const count of counts) assert.ok(count > SEEDS / 5, `item counts ${counts}`);
  });

  it('labels the scene with the class of the largest item, at least 1.25x any other', () => {
    for (const scene of scenes) {
      const sizes = scene.items.map((item) => item.size);
      const largest = sizes.indexOf(Math.max(...sizes));
      const largestItem = scene.items[largest]!;
      assert.equal(scene.labelIndex, largestItem.classIndex, `seed ${scene.seed}`);
      assert.equal(scene.label, FOOD_CLASSES[scene.labelIndex]);
      for (const [i, size] of sizes.entries()) {
        if (i !== largest) assert.ok(largestItem.size >= 1.25 * size, `seed ${scene.seed}: ${sizes}`);
      }
    }
  });

  it('reaches every class, drawing, label and surface', () => {
    const drawings = new Set(scenes.flatMap((s) => s.items.map((item) => item.drawing)));
    assert.deepEqual([...drawings].sort(), DRAWINGS.map((d) => d.id).sort());
    const classes = new Set(scenes.flatMap((s) => s.items.map((item) => item.classIndex)));
    assert.equal(classes.size, FOOD_CLASSES.length);
    const labels = new Set(scenes.map((s) => s.labelIndex));
    assert.equal(labels.size, FOOD_CLASSES.length);
    assert.deepEqual(new Set(scenes.map((s) => s.surface)), new Set(SURFACE_KINDS));
  });

  it('covers widths 64..2000 and aspect ratios 0.6..1.8', () => {
    const widths = scenes.map((s) => s.width);
    assert.ok(Math.min(...widths) >= SCENE_WIDTH_RANGE[0] && Math.min(...widths) < 70, `min width ${Math.min(...widths)}`);
    assert.ok(Math.max(...widths) <= SCENE_WIDTH_RANGE[1] && Math.max(...widths) > 1900, `max width ${Math.max(...widths)}`);
    assert.ok(widths.filter((w) => w < 256).length > SEEDS / 4, 'small images are common');
    for (const scene of scenes) {
      // Height is rounded, so allow the aspect ratio a pixel's slack.
      const aspect = scene.width / scene.height;
      assert.ok(aspect >= SCENE_ASPECT_RANGE[0] * 0.97 && aspect <= SCENE_ASPECT_RANGE[1] * 1.03, `seed ${scene.seed}: ${aspect}`);
      assert.match(scene.svg, new RegExp(`^<svg [^>]*width="${scene.width}" height="${scene.height}"`));
    }
  });

  it('keeps items inside the image, side by side, and scaled with it', () => {
    for (const scene of scenes) {
      let right = -Infinity;
      for (const item of scene.items) {
        assert.ok(item.x - item.size / 2 >= right - 0.02, `seed ${scene.seed}: boxes overlap`);
        right = item.x + item.size / 2;
        assert.ok(item.x - item.size / 2 >= -0.02 && right <= scene.width + 0.02, `seed ${scene.seed}: off the side`);
        assert.ok(item.y - item.size / 2 >= -0.02 && item.y + item.size / 2 <= scene.height + 0.02, `seed ${scene.seed}: off the top or bottom`);
      }
      const largest = Math.max(...scene.items.map((item) => item.size));
      assert.ok(largest >= 0.18 * Math.min(scene.width, scene.height), `seed ${scene.seed}: largest item ${largest}px`);
    }
  });

  it('never repeats a drawing within a scene', () => {
    for (const scene of scenes) {
      assert.equal(new Set(scene.items.map((item) => item.drawing)).size, scene.items.length, `seed ${scene.seed}`);
    }
  });

  it('applies options without disturbing the rest of the scene', () => {
    const plain = generateScene(99);
    const resized = generateScene(99, { width: 300, height: 200 });
    assert.equal(resized.width, 300);
    assert.equal(resized.height, 200);
    assert.equal(resized.caption, plain.caption);
    const forced = generateScene(99, { itemCount: 3, surface: 'marble' });
    assert.equal(forced.items.length, 3);
    assert.equal(forced.surface, 'marble');
    assert.match(forced.caption, /, .* and .* on a marble table$/);
  });

  it('rejects seeds that are not safe integers', () => {
    assert.throws(() => generateScene(1.5), RangeError);
    assert.throws(() => generateScene(Number.NaN), RangeError);
  });
});
