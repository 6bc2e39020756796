import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ValidationError } from '../../../src/errors';
import { ClipTokenizer, MAX_LENGTH, preTokenize } from '../../../src/engine/tokenizer';

// Compiled to helper-service/dist/tests/engine/tokenizer; the fixture stays in the source tree.
const repoRoot = path.resolve(__dirname, '../../../../..');
const clipDir = path.resolve(repoRoot, '../shared/tokenizers/clip');

interface IdsCase {
  text: string;
  ids: number[];
}

/** Written by models/scripts/make_tokenizer_fixtures.py from transformers' CLIPTokenizer; see that script. */
interface Fixture {
  cases: IdsCase[];
  knownDivergence: (IdsCase & { transformersIds: number[]; equivalentText: string; reason: string })[];
  words: { word: string; tokens: string[] }[];
  preTokenizerCases: { text: string; pieces: string[] }[];
  tinyVocab: { captions: string[]; vocab: Record<string, number>; merges: string; cases: IdsCase[] };
}

const fixture = JSON.parse(
  readFileSync(path.join(repoRoot, 'helper-service/tests/fixtures/tokenizer/clip-reference.json'), 'utf8'),
) as Fixture;
const tokenizer = ClipTokenizer.fromFiles(clipDir);
const START_ID = 49406;
const END_ID = 49407;

const label = (text: string): string => JSON.stringify(text.length > 50 ? `${text.slice(0, 50)}…` : text);

function wordNotInPromptError(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe('WORD_NOT_IN_PROMPT');
    return error as ValidationError;
  }
  throw new Error('expected WORD_NOT_IN_PROMPT');
}

describe('ClipTokenizer ids match transformers (fixture)', () => {
  it('covers at least 40 prompts', () => expect(fixture.cases.length).toBeGreaterThanOrEqual(40));

  it.each(fixture.cases.map((c) => [label(c.text), c] as const))('%s', (_, { text, ids }) => {
    const encoded = tokenizer.encode(text);
    expect(encoded.ids).toHaveLength(MAX_LENGTH);
    expect(Array.from(encoded.ids)).toEqual(ids);
  });

  it.each(fixture.knownDivergence.map((d) => [label(d.text), d] as const))(
    'follows the slow tokenizer where transformers 5 differs: %s',
    (_, { text, ids, transformersIds, reason }) => {
      const encoded = Array.from(tokenizer.encode(text).ids);
      expect({ reason, ids: encoded }).toEqual({ reason, ids });
      expect(encoded).not.toEqual(transformersIds);
    },
  );

  it.each(fixture.preTokenizerCases.map((c) => [label(c.text), c] as const))(
    'pre-tokenizes like the IGNORECASE `regex` pattern: %s',
    (_, { text, pieces }) => expect(preTokenize(text)).toEqual(pieces),
  );
});

describe('encode', () => {
  it('gives the token strings of the shared README example', () => {
    const encoded = tokenizer.encode('a photo of a cat');
    expect(encoded.tokens).toEqual([
      '<|startoftext|>', 'a</w>', 'photo</w>', 'of</w>', 'a</w>', 'cat</w>', '<|endoftext|>',
    ]);
    expect(Array.from(encoded.ids.slice(0, 8))).toEqual([START_ID, 320, 1125, 539, 320, 2368, END_ID, END_ID]);
    expect(encoded.truncated).toBe(false);
  });

  it('keeps 75 prompt tokens and ends with the end token when truncating', () => {
    const fits = tokenizer.encode(Array(75).fill('cat').join(' '));
    const cut = tokenizer.encode(Array(76).fill('cat').join(' '));
    expect(fits.truncated).toBe(false);
    expect(cut.truncated).toBe(true);
    expect(cut.tokens).toHaveLength(MAX_LENGTH);
    expect(cut.ids[MAX_LENGTH - 1]).toBe(END_ID);
    expect(Array.from(cut.ids)).toEqual(Array.from(fits.ids));
  });

  it('encodes the empty prompt as start, end and padding', () => {
    expect(Array.from(tokenizer.encode('').ids)).toEqual([START_ID, ...Array<number>(MAX_LENGTH - 1).fill(END_ID)]);
  });

  it('decodes ids back to the cleaned text', () => {
    expect(tokenizer.decode(tokenizer.encode('  A Cat, on   the WALL! ').ids)).toBe('a cat , on the wall !');
    expect(tokenizer.decode(tokenizer.encode('Zürich café').ids)).toBe('zürich café');
  });
});

describe('findWordTokens', () => {
  // ReAtCo's examples; position 0 is the start token.
  it.each([
    ['A jellyfish and a goldfish are swimming in the blue ocean.', ['jellyfish', 'goldfish'], [2, 5]],
    ['A cat and a swan are grazing in the grass.', ['cat', 'swan'], [2, 5]],
    ['A cat, a rabbit, and a chicken are standing on a wall.', ['cat', 'rabbit', 'chicken'], [2, 5, 9]],
  ])('%s -> %p at %p', (prompt, words, positions) => {
    const found = words.map((word) => tokenizer.findWordTokens(prompt, word));
    expect(found.map((f) => f.index)).toEqual(positions);
    expect(found.map((f) => f.multiToken)).toEqual(words.map(() => false));
  });

  it.each(fixture.words.map((w) => [w.word, w.tokens] as const))(
    '%s splits into the pieces transformers gives (%p)',
    (word, tokens) => {
      const found = tokenizer.findWordTokens(`a photo of ${word} in the wild`, word);
      expect(found.tokens).toEqual(tokens);
      expect(found.multiToken).toBe(tokens.length > 1);
      expect(found.index).toBe(4);
      expect(found.positions).toEqual(tokens.map((_, k) => 4 + k));
    },
  );

  it('matches case-insensitively and ignores surrounding spaces', () => {
    expect(tokenizer.findWordTokens('Two HARES are grazing', '  hares ').positions).toEqual([2, 3]);
  });

  it('rejects a word that is not in the prompt', () => {
    const error = wordNotInPromptError(() => tokenizer.findWordTokens('a cat on a wall', 'dog'));
    expect(error.message).toContain('"dog" is not a word of the prompt');
  });

  it('rejects a piece of a longer word', () => {
    // transformers splits "hares" into "ha" + "res</w>"; "res" alone must not match inside it.
    expect(fixture.words.find((w) => w.word === 'hares')?.tokens).toEqual(['ha', 'res</w>']);
    wordNotInPromptError(() => tokenizer.findWordTokens('two hares', 'res'));
  });

  it('rejects an empty word', () => {
    expect(wordNotInPromptError(() => tokenizer.findWordTokens('a cat', ' \t')).message).toContain('empty');
  });

  it('rejects a word beyond the 77-token limit', () => {
    const prompt = `${Array(80).fill('cat').join(' ')} dog`;
    expect(wordNotInPromptError(() => tokenizer.findWordTokens(prompt, 'dog')).message).toContain('first 75 tokens');
    expect(tokenizer.findWordTokens(`${Array(74).fill('cat').join(' ')} dog`, 'dog').index).toBe(75);
  });
});

describe('promptTokens', () => {
  it('lists readable chips for the positions the model reads', () => {
    expect(tokenizer.promptTokens('A cat, two hares in Zürich')).toEqual([
      { position: 1, text: 'a', wordStart: true },
      { position: 2, text: 'cat', wordStart: true },
      { position: 3, text: ',', wordStart: true },
      { position: 4, text: 'two', wordStart: true },
      { position: 5, text: 'ha', wordStart: true },
      { position: 6, text: 'res', wordStart: false },
      { position: 7, text: 'in', wordStart: true },
      { position: 8, text: 'z', wordStart: true },
      { position: 9, text: 'ü', wordStart: false },
      { position: 10, text: 'rich', wordStart: false },
    ]);
  });

  it('stops at the truncation limit', () => {
    const chips = tokenizer.promptTokens(Array(80).fill('cat').join(' '));
    expect(chips).toHaveLength(MAX_LENGTH - 2);
    expect(chips.at(-1)?.position).toBe(MAX_LENGTH - 2);
  });
});

describe('tiny trained vocabulary (models/reatco_models/bpe_train.py)', () => {
  const tiny = new ClipTokenizer(fixture.tinyVocab.vocab, fixture.tinyVocab.merges);

  it.each(fixture.tinyVocab.cases.map((c) => [label(c.text), c] as const))('ids match transformers: %s', (_, c) => {
    expect(Array.from(tiny.encode(c.text).ids)).toEqual(c.ids);
  });

  it('turns every word of the training captions into one vocabulary token', () => {
    for (const caption of fixture.tinyVocab.captions) {
      const words = caption.split(' ').map((word) => `${word}</w>`);
      expect(tiny.encode(caption).tokens.slice(1, -1)).toEqual(words);
      expect(words.every((word) => word in fixture.tinyVocab.vocab)).toBe(true);
    }
  });
});
