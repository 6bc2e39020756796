"""Trains a small byte-level BPE vocabulary in CLIP's file format, for tiny test models.

The files load unchanged in transformers' `CLIPTokenizer.from_pretrained(dir)`, in
`reatco_models.tokenizer.ClipTokenizer.from_dir(dir)` and in the helper's TypeScript tokenizer:
vocab.json holds the 256 byte characters, the same 256 with `</w>`, one token per new merge result in
merge order, then `<|startoftext|>` and `<|endoftext|>`; merges.txt is the `#version: 0.2` header and one
merge per line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from .tokenizer import END_OF_WORD, END_TOKEN, MERGES_HEADER, START_TOKEN, bytes_to_unicode, clean_text, pre_tokenize


def _word_counts(captions: Iterable[str]) -> Counter[tuple[str, ...]]:
    """Each pre-tokenized piece as its symbols (byte characters, the last one carrying `</w>`), counted."""
    byte_chars = bytes_to_unicode()
    counts: Counter[tuple[str, ...]] = Counter()
    for caption in captions:
        for piece in pre_tokenize(clean_text(caption)):
            if piece in (START_TOKEN, END_TOKEN):
                continue
            chars = "".join(byte_chars[b] for b in piece.encode("utf-8"))
            counts[(*chars[:-1], chars[-1] + END_OF_WORD)] += 1
    return counts


def _apply_merge(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    # Left to right, non-overlapping: the order the tokenizers apply a merge in.
    merged = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            merged.append(word[i] + word[i + 1])
            i += 2
        else:
            merged.append(word[i])
            i += 1
    return tuple(merged)


def train_clip_bpe(captions: Iterable[str], num_merges: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Learns up to `num_merges` merges (fewer once every word is a single token).

    Each step merges the most frequent adjacent pair; ties go to the pair met first in caption order, so the
    result is deterministic.
    """
    words = _word_counts(captions)
    merges: list[tuple[str, str]] = []
    while len(merges) < num_merges:
        pairs: Counter[tuple[str, str]] = Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        if not pairs:
            break
        best = max(pairs, key=pairs.__getitem__)
        merges.append(best)
        words = Counter({_apply_merge(word, best): count for word, count in words.items()})

    base = list(bytes_to_unicode().values())
    tokens = [*base, *(c + END_OF_WORD for c in base)]
    for first, second in merges:
        # Two merges can spell the same token; the vocabulary keeps one id for it, as CLIP's ids are dense.
        if first + second not in tokens:
            tokens.append(first + second)
    tokens += [START_TOKEN, END_TOKEN]
    return {token: i for i, token in enumerate(tokens)}, merges


def write_clip_bpe(directory: str | Path, vocab: dict[str, int], merges: list[tuple[str, str]]) -> None:
    """Writes vocab.json and merges.txt into `directory` (created if missing)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = [MERGES_HEADER, *(f"{first} {second}" for first, second in merges)]
    (directory / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
