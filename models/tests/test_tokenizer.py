"""reatco_models.tokenizer and bpe_train against transformers' CLIPTokenizer and the `regex` module.

Run: `cd models && sidpy -m pytest tests/test_tokenizer.py -q` (needs transformers and ../shared beside the repo).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

MODELS_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(MODELS_DIR))
sys.path.insert(0, str(MODELS_DIR / "scripts"))

import make_tokenizer_fixtures as fixtures  # noqa: E402
from reatco_models.bpe_train import train_clip_bpe, write_clip_bpe  # noqa: E402
from reatco_models.tokenizer import (  # noqa: E402
    END_OF_WORD,
    END_TOKEN,
    MERGES_HEADER,
    START_TOKEN,
    ClipTokenizer,
    WordNotInPromptError,
    bytes_to_unicode,
    clean_text,
    pre_tokenize,
)

regex = pytest.importorskip("regex")
pytest.importorskip("transformers")

if not fixtures.CLIP_DIR.is_dir():
    pytest.skip(f"no CLIP tokenizer files at {fixtures.CLIP_DIR}", allow_module_level=True)


@pytest.fixture(scope="module")
def reference():
    tokenizer, _ = fixtures.load_reference_tokenizer(fixtures.CLIP_DIR)
    return tokenizer


@pytest.fixture(scope="module")
def ours():
    return ClipTokenizer.from_dir(fixtures.CLIP_DIR)


# Where the fixture was made; another transformers version must still give the same data.
ENVIRONMENT_KEYS = {"transformers_version", "tokenizers_version", "regex_version", "python_version", "compat_shim"}


def test_committed_fixture_is_what_the_script_generates():
    committed = json.loads(fixtures.FIXTURE.read_text(encoding="utf-8"))
    fresh = json.loads(fixtures.to_json(fixtures.build_fixture()))
    for key in ENVIRONMENT_KEYS:
        committed.pop(key), fresh.pop(key)
    assert committed == fresh, "stale fixture: run `sidpy models/scripts/make_tokenizer_fixtures.py`"


@pytest.mark.parametrize("text", fixtures.CASES)
def test_ids_match_transformers(ours, reference, text):
    assert ours.encode(text) == fixtures.reference_ids(reference, text)


@pytest.mark.parametrize(("text", "equivalent", "reason"), fixtures.DIVERGENCE)
def test_slow_tokenizer_cleanup_where_transformers_5_differs(ours, reference, text, equivalent, reason):
    ids = ours.encode(text)
    assert ids == fixtures.reference_ids(reference, equivalent), reason
    assert ids != fixtures.reference_ids(reference, text)


# Characters on which the slow and the Rust tokenizer agree, mixed at random.
SAFE_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "      \t\n'''.,;:!?-_/&%$#@()[]\"“”…—"
    "éèüöñçßøåÉÜ"
    "дмитрийЖ"
    "αβγδ"
    "ひらがなカタ"
    "한국어"
    "😀🐶🎩❤️🇯🇵"
    "½²Ⅻ"
)


def _random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(SAFE_ALPHABET) for _ in range(rng.randint(0, 60))) for _ in range(count)]


def test_random_texts_match_transformers(ours, reference):
    for text in _random_texts(400, seed=7):
        assert ours.encode(text) == fixtures.reference_ids(reference, text), repr(text)


@pytest.mark.parametrize("case", json.loads(fixtures.FIXTURE.read_text(encoding="utf-8"))["preTokenizerCases"])
def test_pre_tokenizer_matches_fixture(case):
    assert pre_tokenize(case["text"]) == case["pieces"]


def test_pre_tokenizer_matches_regex_module():
    pattern = regex.compile(fixtures.CLIP_PATTERN, regex.IGNORECASE)
    alphabet = SAFE_ALPHABET + "ſ\u0345KIİ<|>" + "stre"
    rng = random.Random(11)
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(2000)]
    texts += ["<|startoftext|>'s", "x<|endoftext|>y", "'ll'd've", "'ſ", "a\u0345b"]
    for text in texts:
        cleaned = clean_text(text)
        assert pre_tokenize(cleaned) == pattern.findall(cleaned), repr(cleaned)


@pytest.mark.parametrize(
    ("prompt", "words", "positions"),
    [
        ("A jellyfish and a goldfish are swimming in the blue ocean.", ["jellyfish", "goldfish"], [2, 5]),
        ("A cat and a swan are grazing in the grass.", ["cat", "swan"], [2, 5]),
        ("A cat, a rabbit, and a chicken are standing on a wall.", ["cat", "rabbit", "chicken"], [2, 5, 9]),
    ],
)
def test_reatco_object_positions(ours, prompt, words, positions):
    found = [ours.find_word_tokens(prompt, word) for word in words]
    assert [f.index for f in found] == positions
    assert not any(f.multi_token for f in found)


def test_multi_token_words_follow_transformers(ours, reference):
    prompt = "an axolotl next to two hares, a teddy bear and Zürich"
    for word in ["axolotl", "hares", "teddy bear", "Zürich", "an"]:
        expected = reference.tokenize(word)
        found = ours.find_word_tokens(prompt, word)
        assert found.tokens == expected
        assert found.multi_token == (len(expected) > 1)
        assert len(found.positions) == len(expected)
        ids = ours.encode(prompt)
        assert [ids[p] for p in found.positions] == reference.convert_tokens_to_ids(expected)
        assert found.index == found.positions[0]


def test_word_must_start_at_a_word_boundary(ours):
    assert ours.tokenize("hares")[-1] == "res" + END_OF_WORD
    with pytest.raises(WordNotInPromptError, match="not a word of the prompt"):
        ours.find_word_tokens("two hares", "res")


def test_missing_and_truncated_words(ours):
    with pytest.raises(WordNotInPromptError, match="not a word of the prompt"):
        ours.find_word_tokens("a cat on a wall", "dog")
    with pytest.raises(WordNotInPromptError, match="empty"):
        ours.find_word_tokens("a cat on a wall", "  ")
    long_prompt = " ".join(["cat"] * 80) + " dog"
    with pytest.raises(WordNotInPromptError, match="first 75 tokens"):
        ours.find_word_tokens(long_prompt, "dog")
    assert ours.find_word_tokens(" ".join(["cat"] * 74) + " dog", "dog").index == 75


def test_decode_gives_the_cleaned_text(ours):
    assert ours.decode(ours.encode("  A Cat, on   the WALL! ")) == "a cat , on the wall !"


TINY_CAPTIONS = [
    "a red circle and a blue square on a green striped background",
    "two hares are grazing in the grass",
    "a green triangle and a red star on a blue dotted background",
    "a hare is grazing on a red background",
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    vocab, merges = train_clip_bpe(TINY_CAPTIONS, 300)
    directory = tmp_path_factory.mktemp("tiny-clip")
    write_clip_bpe(directory, vocab, merges)
    return directory


def test_trained_files_have_clip_layout(tiny_dir):
    vocab = json.loads((tiny_dir / "vocab.json").read_text(encoding="utf-8"))
    merges_lines = (tiny_dir / "merges.txt").read_text(encoding="utf-8").splitlines()
    by_id = sorted(vocab, key=vocab.__getitem__)
    byte_chars = list(bytes_to_unicode().values())
    assert sorted(vocab.values()) == list(range(len(vocab)))
    assert by_id[:256] == byte_chars
    assert by_id[256:512] == [c + END_OF_WORD for c in byte_chars]
    assert by_id[-2:] == [START_TOKEN, END_TOKEN]
    assert merges_lines[0] == MERGES_HEADER
    merged = [line.replace(" ", "") for line in merges_lines[1:]]
    assert by_id[512:-2] == list(dict.fromkeys(merged))


def test_training_is_deterministic_and_stops_when_every_word_is_one_token():
    vocab, merges = train_clip_bpe(TINY_CAPTIONS, 300)
    assert (vocab, merges) == train_clip_bpe(TINY_CAPTIONS, 300)
    assert len(merges) < 300
    assert train_clip_bpe(TINY_CAPTIONS, 5)[1] == merges[:5]


def test_transformers_reads_the_trained_vocabulary_like_we_do(tiny_dir):
    reference, _ = fixtures.load_reference_tokenizer(tiny_dir)
    ours = ClipTokenizer.from_dir(tiny_dir)
    unseen = ["A purple hexagon, on a dotted background!", "three rabbits grazing", "Zürich 2024 😀"]
    for text in TINY_CAPTIONS + unseen + _random_texts(100, seed=3):
        assert ours.encode(text) == fixtures.reference_ids(reference, text), repr(text)
    for caption in TINY_CAPTIONS:
        words = caption.split()
        assert reference.tokenize(caption) == [w + END_OF_WORD for w in words]
        assert ours.tokenize(caption) == [w + END_OF_WORD for w in words]
