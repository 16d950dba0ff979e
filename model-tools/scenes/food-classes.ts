/**
 * @module scenes/food-classes
 * The 11 Food-11 classes in their canonical order: a class's position is its `label_index`.
 */

/**
 * Food-11 display names; the index of a name is the classifier's label index.
 *
 * @example
 * FOOD_CLASSES[6]; // 'noodles/pasta'
 */
export const FOOD_CLASSES = [
  'bread',
  'dairy product',
  'dessert',
  'egg',
  'fried food',
  'meat',
  'noodles/pasta',
  'rice',
  'seafood',
  'soup',
  'vegetable/fruit',
] as const;

/** One Food-11 display name. */
export type FoodClassName = (typeof FOOD_CLASSES)[number];
