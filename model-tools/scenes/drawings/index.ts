/**
 * @module scenes/drawings
 * The catalogue of cartoon food drawings, grouped by Food-11 class index.
 */
import { FOOD_CLASSES } from '../food-classes.js';
import { BREAD_DRAWINGS } from './bread.js';
import { DAIRY_DRAWINGS } from './dairy.js';
import { DESSERT_DRAWINGS } from './dessert.js';
import type { Drawing } from './drawing.js';
import { EGG_DRAWINGS } from './egg.js';
import { FRIED_FOOD_DRAWINGS } from './fried-food.js';
import { MEAT_DRAWINGS } from './meat.js';
import { NOODLES_PASTA_DRAWINGS } from './noodles-pasta.js';
import { RICE_DRAWINGS } from './rice.js';
import { SEAFOOD_DRAWINGS } from './seafood.js';
import { SOUP_DRAWINGS } from './soup.js';
import { VEGETABLE_FRUIT_DRAWINGS } from './vegetable-fruit.js';

export { defineDrawing } from './drawing.js';
export type { Drawing, DrawingBody, DrawingParams } from './drawing.js';

/**
 * Drawings per class: `DRAWINGS_BY_CLASS[i]` holds the drawings of `FOOD_CLASSES[i]`.
 * The order is part of the generator's output for a seed; append, never reorder.
 */
export const DRAWINGS_BY_CLASS: readonly (readonly Drawing[])[] = [
  BREAD_DRAWINGS,
  DAIRY_DRAWINGS,
  DESSERT_DRAWINGS,
  EGG_DRAWINGS,
  FRIED_FOOD_DRAWINGS,
  MEAT_DRAWINGS,
  NOODLES_PASTA_DRAWINGS,
  RICE_DRAWINGS,
  SEAFOOD_DRAWINGS,
  SOUP_DRAWINGS,
  VEGETABLE_FRUIT_DRAWINGS,
];

/** Every drawing, class by class. */
export const DRAWINGS: readonly Drawing[] = DRAWINGS_BY_CLASS.flat();

for (const [index, drawings] of DRAWINGS_BY_CLASS.entries()) {
  // A misfiled drawing would teach the classifier a wrong label; fail at import instead.
  for (const drawing of drawings) {
    if (drawing.classIndex !== index) {
      throw new Error(`drawing ${drawing.id} is filed under ${FOOD_CLASSES[index]} but says class ${drawing.classIndex}`);
    }
  }
}
