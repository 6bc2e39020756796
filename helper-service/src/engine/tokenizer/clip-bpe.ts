/**
 * The CLIP BPE tokenizer of Stable Diffusion 1.x, built from its vocab.json and merges.txt.
 *
 * It reproduces the slow (Python) `CLIPTokenizer` of transformers 4.x as diffusers pipelines call it
 * (77 ids, truncation, padding with the end token), in an environment without ftfy: the text cleanup is
 * transformers' `BasicTokenizer(strip_accents=False, do_split_on_punc=False)`, so HTML entities stay as
 * typed. transformers 5 only has the Rust-backed tokenizer, which differs from it on CJK ideographs,
 * control/format characters and a few lower-casing details; models/scripts/make_tokenizer_fixtures.py records
 * those cases, and models/reatco_models/tokenizer.py is the Python twin of this file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ModelError, ValidationError } from '../../errors';

export const START_TOKEN = '<|startoftext|>';
export const END_TOKEN = '<|endoftext|>';
/** Tokens the text encoder reads, start and end tokens included. */
export const MAX_LENGTH = 77;
const END_OF_WORD = '</w>';
// CLIP (and transformers after it) reads at most this many merges from merges.txt.
const MAX_MERGES = 49152 - 256 - 2;

// Order matters: \t \n \r are control characters, yet become spaces; every other "C*" character goes.
const WHITESPACE = /[\t\n\r\p{Zs}]/gu;
const REMOVED = /[\p{C}\uFFFD]/gu;
// transformers' BasicTokenizer._is_chinese_char blocks.
const CJK_IDEOGRAPH = new RegExp(
  '[\\u{4E00}-\\u{9FFF}\\u{3400}-\\u{4DBF}\\u{20000}-\\u{2A6DF}\\u{2A700}-\\u{2B73F}\\u{2B740}-\\u{2B81F}' +
    '\\u{2B820}-\\u{2CEAF}\\u{F900}-\\u{FAFF}\\u{2F800}-\\u{2FA1F}]',
  'gu',
);
// CLIP's pre-tokenizer; the reference compiles it with IGNORECASE (so "'ſ" counts as "'s").
const CLIP_PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;
// U+0345 folds to a letter: JavaScript's case-insensitive \p{L} takes it, Python's `regex` matches it with no
// branch and skips it like a space.
const SKIPPED_BY_PATTERN = /\u0345/g;

/** The reference's text cleanup: the words of the prompt, lower-cased, joined by single spaces. */
export function cleanText(text: string): string {
  const cleaned = text.replace(WHITESPACE, ' ').replace(REMOVED, '').replace(CJK_IDEOGRAPH, ' $& ');
  return cleaned
    .normalize('NFC')
    .toLowerCase()
    .split(/\s+/u)
    .filter((word) => word !== '')
    .join(' ');
}

/** CLIP's pre-tokenization of cleaned text: special tokens, contractions, letter runs, single digits, symbol runs. */
export function preTokenize(cleanedText: string): string[] {
  return cleanedText.replace(SKIPPED_BY_PATTERN, ' ').match(CLIP_PATTERN) ?? [];
}

/** CLIP's reversible byte -> character table: printable Latin-1 bytes map to themselves, the rest to U+0100... */
function byteCharacters(): string[] {
  const chars: string[] = [];
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable =
      (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
    chars.push(String.fromCharCode(printable ? byte : 256 + shifted++));
  }
  return chars;
}

const BYTE_CHARS = byteCharacters();
const CHAR_BYTES = new Map(BYTE_CHARS.map((char, byte) => [char, byte]));
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

function toByteChars(piece: string): string {
  return Array.from(utf8Encoder.encode(piece), (byte) => BYTE_CHARS[byte] ?? '').join('');
}

/** The text of BPE tokens, bytes decoded (`</w>` kept). Multi-byte characters split across tokens show as U+FFFD. */
function tokensToText(tokens: readonly string[]): string {
  const bytes = Array.from(tokens.join(''), (char) => CHAR_BYTES.get(char) ?? 0x3f);
  return utf8Decoder.decode(Uint8Array.from(bytes));
}

function isWordStart(tokens: readonly string[], position: number): boolean {
  const previous = tokens[position - 1];
  if (previous === undefined || previous === START_TOKEN || previous === END_TOKEN) return true;
  return previous.endsWith(END_OF_WORD);
}

export interface EncodedPrompt {
  /** Always MAX_LENGTH ids: start token, up to 75 prompt tokens, end token, end-token padding. */
  ids: Int32Array;
  /** The token strings before padding, start and end tokens included. */
  tokens: string[];
  /** Whether prompt tokens past the 75th were cut. */
  truncated: boolean;
}

export interface WordTokens {
  /** The token position RAD uses for the word (0 is the start token): its first sub-token. */
  index: number;
  /** Every token position of the first whole-word occurrence of the word or phrase. */
  positions: number[];
  /** The word is several BPE pieces (or a phrase); callers should warn that RAD uses only the first. */
  multiToken: boolean;
  tokens: string[];
}

export interface PromptToken {
  position: number;
  /** The piece as an editor reads it, without the end-of-word marker. */
  text: string;
  /** Whether the token begins a word (pieces of one word follow with wordStart false). */
  wordStart: boolean;
}

export class ClipTokenizer {
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly idToToken: ReadonlyMap<number, string>;
  /** Merge rank keyed by "first second" (tokens never contain spaces). */
  private readonly ranks: ReadonlyMap<string, number>;
  private readonly startId: number;
  private readonly endId: number;
  private readonly cache = new Map<string, string[]>([
    [START_TOKEN, [START_TOKEN]],
    [END_TOKEN, [END_TOKEN]],
  ]);

  /** `vocab` is the parsed vocab.json, `mergesText` the contents of merges.txt (header line first). */
  constructor(vocab: Readonly<Record<string, number>>, mergesText: string) {
    this.vocab = new Map(Object.entries(vocab));
    this.idToToken = new Map(Object.entries(vocab).map(([token, id]) => [id, token]));
    const startId = this.vocab.get(START_TOKEN);
    const endId = this.vocab.get(END_TOKEN);
    if (startId === undefined || endId === undefined) {
      throw new ModelError('MODEL_INVALID', `The tokenizer vocabulary lacks ${START_TOKEN} or ${END_TOKEN}.`);
    }
    this.startId = startId;
    this.endId = endId;
    const lines = mergesText.trim().split('\n').slice(1, MAX_MERGES + 1);
    this.ranks = new Map(
      lines.map((line, rank) => {
        const pair = line.trim().split(/\s+/);
        if (pair.length !== 2) {
          throw new ModelError('MODEL_INVALID', `Line ${rank + 2} of the tokenizer merges is not a pair: "${line}".`);
        }
        return [pair.join(' '), rank];
      }),
    );
  }

  /** Reads `<dir>/vocab.json` and `<dir>/merges.txt`. */
  static fromFiles(dir: string): ClipTokenizer {
    const vocab = JSON.parse(readFileSync(path.join(dir, 'vocab.json'), 'utf8')) as Record<string, number>;
    return new ClipTokenizer(vocab, readFileSync(path.join(dir, 'merges.txt'), 'utf8'));
  }

  /** The BPE token strings of `text`, without start/end tokens and without truncation. */
  tokenize(text: string): string[] {
    // Special tokens are ASCII, which maps to itself, so they reach the cache unchanged.
    return preTokenize(cleanText(text)).flatMap((piece) => this.bpe(toByteChars(piece)));
  }

  encode(text: string): EncodedPrompt {
    const { tokens, truncated } = this.withSpecialTokens(text);
    const ids = new Int32Array(MAX_LENGTH).fill(this.endId);
    tokens.forEach((token, position) => {
      // The reference maps a token missing from the vocabulary to its unknown token, the end token.
      ids[position] = this.vocab.get(token) ?? this.endId;
    });
    return { ids, tokens, truncated };
  }

  /** Where the first whole-word occurrence of `word` (a word or phrase, tokenized like the prompt) lies. */
  findWordTokens(prompt: string, word: string): WordTokens {
    const wordTokens = this.tokenize(word);
    if (wordTokens.length === 0) {
      const message = 'The object word is empty: type a word of the prompt, such as "cat".';
      throw new ValidationError('WORD_NOT_IN_PROMPT', message, { prompt, word });
    }
    const promptTokens = [START_TOKEN, ...this.tokenize(prompt)];
    const start = promptTokens.findIndex(
      (_, i) => i > 0 && isWordStart(promptTokens, i) && wordTokens.every((token, k) => promptTokens[i + k] === token),
    );
    if (start < 0) {
      throw new ValidationError(
        'WORD_NOT_IN_PROMPT',
        `"${word.trim()}" is not a word of the prompt "${prompt.trim()}". ` +
          'Type the object word as it is written in the prompt.',
        { prompt, word },
      );
    }
    const positions = wordTokens.map((_, k) => start + k);
    if (start + wordTokens.length - 1 > MAX_LENGTH - 2) {
      throw new ValidationError(
        'WORD_NOT_IN_PROMPT',
        `"${word.trim()}" comes after the first ${MAX_LENGTH - 2} tokens of the prompt, ` +
          'which is all the model reads. Shorten the prompt or move the word forward.',
        { prompt, word, positions },
      );
    }
    return { index: start, positions, multiToken: positions.length > 1, tokens: wordTokens };
  }

  /** Display pieces of the tokens the model reads (positions 1 to before the end token), for clickable chips. */
  promptTokens(prompt: string): PromptToken[] {
    const { tokens } = this.withSpecialTokens(prompt);
    const content = tokens.slice(1, -1);
    return content.map((token, i) => ({
      position: i + 1,
      text: tokensToText([token.endsWith(END_OF_WORD) ? token.slice(0, -END_OF_WORD.length) : token]),
      wordStart: isWordStart(tokens, i + 1),
    }));
  }

  /** Text of the ids, start and end tokens left out; for debugging. */
  decode(ids: ArrayLike<number>): string {
    const tokens = Array.from(ids)
      .filter((id) => id !== this.startId && id !== this.endId)
      .map((id) => this.idToToken.get(id) ?? '');
    return tokensToText(tokens).replaceAll(END_OF_WORD, ' ').trim();
  }

  private withSpecialTokens(text: string): { tokens: string[]; truncated: boolean } {
    const content = this.tokenize(text);
    const room = MAX_LENGTH - 2;
    return { tokens: [START_TOKEN, ...content.slice(0, room), END_TOKEN], truncated: content.length > room };
  }

  /** Byte-level BPE of one pre-tokenized piece: repeatedly merge the adjacent pair of lowest rank. */
  private bpe(piece: string): string[] {
    const cached = this.cache.get(piece);
    if (cached !== undefined) return cached;
    const chars = Array.from(piece);
    let word = [...chars.slice(0, -1), `${chars[chars.length - 1] ?? ''}${END_OF_WORD}`];
    while (word.length > 1) {
      let best: string | undefined;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const pair = `${word[i]} ${word[i + 1]}`;
        const rank = this.ranks.get(pair);
        if (rank !== undefined && rank < bestRank) {
          best = pair;
          bestRank = rank;
        }
      }
      if (best === undefined) break;
      const [first, second] = best.split(' ');
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (word[i] === first && word[i + 1] === second) {
          merged.push(`${first}${second}`);
          i++;
        } else {
          merged.push(word[i] ?? '');
        }
      }
      word = merged;
    }
    this.cache.set(piece, word);
    return word;
  }
}
