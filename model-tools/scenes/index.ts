/**
 * @module scenes
 * Synthetic cartoon food scenes for the demo models: generation, captions, rendering and the
 * shared model resize.
 */
export { FOOD_CLASSES } from './food-classes.js';
export type { FoodClassName } from './food-classes.js';
export { createRng, mulberry32 } from './prng.js';
export type { Rng } from './prng.js';
export { DRAWINGS, DRAWINGS_BY_CLASS, defineDrawing } from './drawings/index.js';
export type { Drawing, DrawingBody, DrawingParams } from './drawings/index.js';
export { SURFACE_KINDS } from './surfaces.js';
export type { SurfaceKind } from './surfaces.js';
export {
  CAPTION_TEMPLATES,
  CAPTION_VOCABULARY,
  PHRASES,
  composeCaption,
  detokenizeCaption,
  parseCaption,
  tokenizeCaption,
} from './caption.js';
export type { ParsedCaption } from './caption.js';
export {
  LARGEST_ITEM_MARGIN,
  SCENE_ASPECT_RANGE,
  SCENE_WIDTH_RANGE,
  generateScene,
} from './generate-scene.js';
export type { Scene, SceneItem, SceneOptions } from './generate-scene.js';
export { SCENE_JPEG_QUALITY, modelResizePipeline, renderScene, resizeForModel } from './render-scene.js';
export type { RenderOptions, SceneImageFormat } from './render-scene.js';
export { datasetFileName, datasetRecord, writeDataset } from './dataset-writer.js';
export type { DatasetRecord, WriteDatasetOptions, WriteDatasetResult } from './dataset-writer.js';
