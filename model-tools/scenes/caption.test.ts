/**
 * @module scenes/caption.test
 * The caption grammar: the three templates, parsing back, tokens and the closed vocabulary.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CAPTION_VOCABULARY,
  PHRASES,
  composeCaption,
  detokenizeCaption,
  parseCaption,
  tokenizeCaption,
} from './caption.js';
import { DRAWINGS } from './drawings/index.js';

describe('composeCaption', () => {
  it('uses one template per item count', () => {
    assert.equal(composeCaption(['an apple'], 'blue'), 'an apple on a blue table');
    assert.equal(composeCaption(['a fish', 'a crab'], 'wooden'), 'a fish next to a crab on a wooden table');
    assert.equal(
      composeCaption(['a fish', 'a crab', 'an apple'], 'marble'),
      'a fish, a crab and an apple on a marble table',
    );
  });

  it('refuses zero or four items', () => {
    assert.throws(() => composeCaption([], 'blue'), RangeError);
    assert.throws(() => composeCaption(['a', 'b', 'c', 'd'], 'blue'), RangeError);
  });
});

describe('parseCaption', () => {
  it('takes every template apart', () => {
    assert.deepEqual(parseCaption('a steak on a green table'), { phrases: ['a steak'], surface: 'green' });
    assert.deepEqual(parseCaption('a cupcake next to two eggs on a white table'), {
      phrases: ['a cupcake', 'two eggs'],
      surface: 'white',
    });
    assert.deepEqual(parseCaption('some fries, a leg of ham and a rice ball on a blue table'), {
      phrases: ['some fries', 'a leg of ham', 'a rice ball'],
      surface: 'blue',
    });
  });

  it('rejects text the grammar cannot produce', () => {
    for (const text of [
      'a steak on a purple table',
      'a pizza on a blue table',
      'a steak and a fish on a blue table',
      'a steak, a fish on a blue table',
      'a steak next to a fish, a crab and an apple on a blue table',
      'A steak on a blue table',
      'a steak on a blue table.',
    ]) {
      assert.equal(parseCaption(text), undefined, text);
    }
  });
});

describe('phrases and vocabulary', () => {
  it('has one phrase per drawing, lower-case words only', () => {
    assert.equal(PHRASES.length, DRAWINGS.length);
    for (const phrase of PHRASES) assert.match(phrase, /^[a-z]+( [a-z]+)*$/);
  });

  it('tokenizes the comma as its own token and round-trips', () => {
    const caption = 'a fish, a crab and an apple on a blue table';
    const tokens = tokenizeCaption(caption);
    assert.deepEqual(tokens, ['a', 'fish', ',', 'a', 'crab', 'and', 'an', 'apple', 'on', 'a', 'blue', 'table']);
    assert.equal(detokenizeCaption(tokens), caption);
  });

  it('stays well under 120 words and covers every caption token', () => {
    assert.ok(CAPTION_VOCABULARY.length < 120, `vocabulary has ${CAPTION_VOCABULARY.length} tokens`);
    assert.ok(CAPTION_VOCABULARY.includes(','));
    const caption = composeCaption(PHRASES.slice(0, 3), 'marble');
    for (const token of tokenizeCaption(caption)) assert.ok(CAPTION_VOCABULARY.includes(token), token);
    for (const phrase of PHRASES) {
      for (const word of phrase.split(' ')) assert.ok(CAPTION_VOCABULARY.includes(word), word);
    }
  });
});
