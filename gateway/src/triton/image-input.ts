/**
 * @module triton/image-input
 * One preprocessed image as the FP32 [1,3,S,S] input of an image model, as raw bytes (no copy).
 */
import type { RawTensor } from './client.js';

export function imageInput(inputName: string, size: number, pixelValues: Float32Array): Record<string, RawTensor> {
  const raw = new Uint8Array(pixelValues.buffer, pixelValues.byteOffset, pixelValues.byteLength);
  return { [inputName]: { datatype: 'FP32', shape: [1, 3, size, size], raw } };
}
