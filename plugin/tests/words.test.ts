import { multiTokenWarning, relocateWord, wordAtToken, wordsOf, type PromptToken } from '../src/regions/words';

/** "a jelly fish and a goldfish" as a small vocabulary splits it: jellyfish = jelly + fish. */
const tokens: PromptToken[] = [
  { position: 1, text: 'a', wordStart: true },
  { position: 2, text: 'jelly', wordStart: true },
  { position: 3, text: 'fish', wordStart: false },
  { position: 4, text: 'and', wordStart: true },
  { position: 5, text: 'a', wordStart: true },
  { position: 6, text: 'goldfish', wordStart: true },
];

test('tokens group into words at wordStart', () => {
  expect(wordsOf(tokens).map((w) => [w.position, w.text])).toEqual([
    [1, 'a'],
    [2, 'jellyfish'],
    [4, 'and'],
    [5, 'a'],
    [6, 'goldfish'],
  ]);
});

test('clicking any piece of a word picks the word at its first token (the one RAD steers)', () => {
  expect(wordAtToken(tokens, 3)).toEqual({ position: 2, text: 'jellyfish', pieces: ['jelly', 'fish'] });
  expect(wordAtToken(tokens, 2)?.position).toBe(2);
  expect(wordAtToken(tokens, 6)?.text).toBe('goldfish');
  expect(wordAtToken(tokens, 99)).toBeNull();
});

test('multi-token words get a warning, single-token words none', () => {
  expect(multiTokenWarning(wordAtToken(tokens, 2)!)).toMatch(/"jellyfish" is 2 tokens .*jelly · fish.*"jelly"/);
  expect(multiTokenWarning(wordAtToken(tokens, 6)!)).toBeNull();
});

test('a region follows its word when the prompt changes, and loses it when the word is gone', () => {
  const edited: PromptToken[] = [
    { position: 1, text: 'two', wordStart: true },
    { position: 2, text: 'goldfish', wordStart: true },
    { position: 3, text: 'and', wordStart: true },
    { position: 4, text: 'a', wordStart: true },
    { position: 5, text: 'goldfish', wordStart: true },
  ];
  expect(relocateWord(edited, 'goldfish', 6, new Set())).toBe(2);
  expect(relocateWord(edited, 'goldfish', 6, new Set([2]))).toBe(5);
  expect(relocateWord(edited, 'goldfish', 5, new Set([5]))).toBe(5);
  expect(relocateWord(edited, 'jellyfish', 2, new Set())).toBeNull();
});
