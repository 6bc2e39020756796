/**
 * Object words as the model reads them: the helper's `tokenize` gives CLIP tokens with `wordStart`
 * (false = a piece continuing the previous token's word). A region attaches to a word's FIRST token,
 * which is the one RAD steers; words of several pieces get a warning.
 */
import type { ResultOf } from '@reatco/helper-service/protocol';

export type PromptToken = ResultOf<'tokenize'>['tokens'][number];

export interface PromptWord {
  /** Token position of the word's first piece (what the job's tokenIndex is). */
  readonly position: number;
  readonly text: string;
  readonly pieces: readonly string[];
}

/** Groups tokens into words, in prompt order. */
export function wordsOf(tokens: readonly PromptToken[]): PromptWord[] {
  const words: { position: number; pieces: string[] }[] = [];
  for (const token of tokens) {
    const last = words[words.length - 1];
    if (token.wordStart || !last) words.push({ position: token.position, pieces: [token.text] });
    else last.pieces.push(token.text);
  }
  return words.map((w) => ({ position: w.position, text: w.pieces.join(''), pieces: w.pieces }));
}

/** The word a token belongs to (clicking any piece of a word picks the whole word). */
export function wordAtToken(tokens: readonly PromptToken[], position: number): PromptWord | null {
  if (!tokens.some((t) => t.position === position)) return null;
  const words = wordsOf(tokens);
  const index = words.findIndex((w) => w.position > position);
  const word = index === -1 ? words[words.length - 1] : words[index - 1];
  return word && position >= word.position ? word : null;
}

/** What to tell the editor about a word of several pieces, or null for a one-token word. */
export function multiTokenWarning(word: PromptWord): string | null {
  if (word.pieces.length < 2) return null;
  return `"${word.text}" is ${word.pieces.length} tokens to the model (${word.pieces.join(' · ')}); the region steers the first one, "${word.pieces[0]}". A one-token word may work better.`;
}

/**
 * Where a word chosen earlier is now, after the prompt changed: the same position if the same word is
 * still there, else its first occurrence not taken by another region, else null (pick it again).
 */
export function relocateWord(tokens: readonly PromptToken[], word: string, position: number, taken: ReadonlySet<number>): number | null {
  const words = wordsOf(tokens);
  if (words.some((w) => w.position === position && w.text === word)) return position;
  return words.find((w) => w.text === word && !taken.has(w.position))?.position ?? null;
}
