/**
 * @module preprocess/pixel-values
 * Interleaved RGB bytes (HWC, as sharp's raw output) to a model's `pixel_values`: scaled by
 * 1/255, normalised with the model's mean and std, channels first (CHW), in one pass.
 */

export interface Normalisation {
  readonly rescaleFactor: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

/**
 * Writes image `index` of a batch into `out` (length ≥ (index+1)·3·H·W), so batches fill one
 * buffer without intermediate copies. Returns `out`.
 */
export function writePixelValues(rgb: Uint8Array, pixels: number, n: Normalisation, out: Float32Array, index = 0): Float32Array {
  if (rgb.length !== pixels * 3) throw new Error(`expected ${pixels * 3} RGB bytes, got ${rgb.length}`);
  const base = index * 3 * pixels;
  for (let c = 0; c < 3; c++) {
    // (v * rescale - mean) / std == v * scale + shift
    const scale = n.rescaleFactor / n.std[c]!;
    const shift = -n.mean[c]! / n.std[c]!;
    const plane = base + c * pixels;
    for (let p = 0; p < pixels; p++) out[plane + p] = rgb[p * 3 + c]! * scale + shift;
  }
  return out;
}
