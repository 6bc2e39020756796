"""The CLIP BPE tokenizer of Stable Diffusion 1.x, in pure Python (no transformers, no `regex`).

Reference: the slow (Python) `CLIPTokenizer` of transformers 4.x as diffusers pipelines use it, in an
environment without ftfy. Its text cleanup is then `BasicTokenizer(strip_accents=False,
do_split_on_punc=False)`: drop NUL, U+FFFD and every Unicode "C*" character (controls, format characters
such as zero-width joiners, private use, unassigned), turn the remaining whitespace into spaces, put spaces
around CJK ideographs, NFC, lower-case. HTML entities stay as typed (only ftfy's path unescapes them).
transformers 5 has only the Rust-backed tokenizer, which differs on those cleanup steps; see
`models/scripts/make_tokenizer_fixtures.py` for the cases and how the ids are still checked.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

START_TOKEN = "<|startoftext|>"
END_TOKEN = "<|endoftext|>"
END_OF_WORD = "</w>"
MAX_LENGTH = 77
# CLIP (and transformers after it) reads at most 49152 - 256 - 2 merges from merges.txt.
MAX_MERGES = 49152 - 256 - 2
MERGES_HEADER = "#version: 0.2"

# The CLIP pattern matches these case-insensitively; after lower-casing only the long s still folds.
_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
_CASE_FOLDS = {"ſ": "s"}
# Matched by no branch of the pattern under IGNORECASE (it folds to a letter, yet is no letter), so the
# `regex` module skips it like a space.
_SKIPPED_BY_PATTERN = "\u0345"


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible byte -> character table: printable Latin-1 bytes map to themselves, the rest to U+0100.."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shifted)
            shifted += 1
    return table


def _is_cjk_ideograph(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def clean_text(text: str) -> str:
    """The reference's text cleanup: the words of the prompt, lower-cased, joined by single spaces."""
    kept = []
    for char in text:
        if char in "\t\n\r" or unicodedata.category(char) == "Zs":
            kept.append(" ")
        elif char == "\ufffd" or unicodedata.category(char).startswith("C"):
            continue
        elif _is_cjk_ideograph(ord(char)):
            kept.append(f" {char} ")
        else:
            kept.append(char)
    return " ".join(unicodedata.normalize("NFC", "".join(kept)).lower().split())


def _char_class(char: str) -> str:
    if char.isspace() or char == _SKIPPED_BY_PATTERN:
        return "skip"
    if char.isalpha():
        return "letter"
    if unicodedata.category(char).startswith("N"):
        return "number"
    return "other"


def _folded_startswith(text: str, start: int, literal: str) -> bool:
    piece = text[start : start + len(literal)]
    return len(piece) == len(literal) and all(_CASE_FOLDS.get(c, c.lower()) == l for c, l in zip(piece, literal))


def pre_tokenize(text: str) -> list[str]:
    """`regex.findall` of CLIP's pattern (IGNORECASE), without the `regex` module:
    special token | contraction | run of letters | one digit | run of other non-space characters."""
    pieces = []
    i = 0
    while i < len(text):
        literal = next(
            (lit for lit in (START_TOKEN, END_TOKEN, *_CONTRACTIONS) if _folded_startswith(text, i, lit)), None
        )
        kind = _char_class(text[i])
        if literal is not None:
            end = i + len(literal)
        elif kind == "skip":
            i += 1
            continue
        elif kind == "number":
            end = i + 1
        else:
            end = i + 1
            while end < len(text) and _char_class(text[end]) == kind:
                end += 1
        pieces.append(text[i:end])
        i = end
    return pieces


def parse_merges(merges_text: str) -> list[tuple[str, str]]:
    """merges.txt as transformers reads it: the first line is the header, at most MAX_MERGES follow."""
    lines = merges_text.strip().split("\n")[1 : MAX_MERGES + 1]
    pairs = []
    for line in lines:
        first, second = line.split()
        pairs.append((first, second))
    return pairs


@dataclass(frozen=True)
class WordTokens:
    index: int
    """The token position RAD uses (the first sub-token); 0 is the start token."""
    positions: list[int]
    multi_token: bool
    tokens: list[str]


class WordNotInPromptError(ValueError):
    pass


def _find_word_start(tokens: list[str], word_tokens: list[str]) -> int | None:
    """First position where `word_tokens` occur in `tokens` starting at a word boundary (not inside a word)."""
    for start in range(1, len(tokens) - len(word_tokens) + 1):
        previous = tokens[start - 1]
        at_word_start = previous in (START_TOKEN, END_TOKEN) or previous.endswith(END_OF_WORD)
        if at_word_start and tokens[start : start + len(word_tokens)] == word_tokens:
            return start
    return None


class ClipTokenizer:
    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]]):
        self.vocab = vocab
        self.id_to_token = {i: t for t, i in vocab.items()}
        self.ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.start_id = vocab[START_TOKEN]
        self.end_id = vocab[END_TOKEN]
        self._byte_chars = bytes_to_unicode()
        self._char_bytes = {c: b for b, c in self._byte_chars.items()}
        self._cache = {START_TOKEN: [START_TOKEN], END_TOKEN: [END_TOKEN]}

    @classmethod
    def from_dir(cls, path: str | Path) -> ClipTokenizer:
        path = Path(path)
        vocab = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
        return cls(vocab, parse_merges((path / "merges.txt").read_text(encoding="utf-8")))

    def bpe(self, piece: str) -> list[str]:
        """Byte-level BPE of one pre-tokenized piece (already mapped to byte characters)."""
        cached = self._cache.get(piece)
        if cached is not None:
            return cached
        word = [*piece[:-1], piece[-1] + END_OF_WORD]
        while len(word) > 1:
            ranked = [(self.ranks[pair], pair) for pair in zip(word, word[1:]) if pair in self.ranks]
            if not ranked:
                break
            first, second = min(ranked)[1]
            merged = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == first and word[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self._cache[piece] = word
        return word

    def tokenize(self, text: str) -> list[str]:
        """The BPE token strings of `text`, without start/end tokens and without truncation."""
        tokens = []
        for piece in pre_tokenize(clean_text(text)):
            tokens.extend(self.bpe("".join(self._byte_chars[b] for b in piece.encode("utf-8"))))
        return tokens

    def _token_id(self, token: str) -> int:
        # The reference maps unknown tokens to its unk token, which is the end token.
        return self.vocab.get(token, self.end_id)

    def _with_special_tokens(self, text: str) -> tuple[list[str], bool]:
        """Start token, the content truncated to 75 tokens, end token; and whether anything was cut."""
        content = self.tokenize(text)
        room = MAX_LENGTH - 2
        return [START_TOKEN, *content[:room], END_TOKEN], len(content) > room

    def encode(self, text: str) -> list[int]:
        """77 ids: start token, the prompt's tokens (truncated to 75), end token, end-token padding."""
        tokens, _ = self._with_special_tokens(text)
        ids = [self._token_id(t) for t in tokens]
        return ids + [self.end_id] * (MAX_LENGTH - len(ids))

    def find_word_tokens(self, prompt: str, word: str) -> WordTokens:
        """Where the first whole-word occurrence of `word` (a word or phrase) lies in the prompt's tokens."""
        word_tokens = self.tokenize(word)
        if not word_tokens:
            raise WordNotInPromptError(f'The object word "{word}" is empty.')
        start = _find_word_start([START_TOKEN, *self.tokenize(prompt)], word_tokens)
        if start is None:
            raise WordNotInPromptError(f'"{word}" is not a word of the prompt "{prompt}".')
        positions = list(range(start, start + len(word_tokens)))
        if positions[-1] > MAX_LENGTH - 2:
            raise WordNotInPromptError(
                f'"{word}" comes after the first {MAX_LENGTH - 2} tokens of the prompt, which is all the model reads. '
                "Shorten the prompt or move the word forward."
            )
        return WordTokens(positions[0], positions, len(positions) > 1, word_tokens)

    def decode(self, ids: list[int]) -> str:
        """Text of the ids, start and end tokens left out (for debugging)."""
        tokens = [self.id_to_token[i] for i in ids if i not in (self.start_id, self.end_id)]
        data = bytes(self._char_bytes[c] for c in "".join(tokens))
        return data.decode("utf-8", errors="replace").replace(END_OF_WORD, " ").strip()
