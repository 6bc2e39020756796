"""Regenerates helper-service/tests/fixtures/tokenizer/clip-reference.json from transformers' CLIPTokenizer.

Run from the repository (any directory under /work): `sidpy models/scripts/make_tokenizer_fixtures.py`.
It reads the SD-1.x tokenizer files at ../shared/tokenizers/clip beside the repository.

What the fixture holds, all computed here by transformers / `regex`, never by our tokenizers:
- `cases`: 77 ids for awkward prompts, as a diffusers pipeline asks for them
  (padding="max_length", max_length=77, truncation=True).
- `knownDivergence`: prompts on which transformers 5's CLIPTokenizer (Rust `tokenizers` backend; the slow
  Python class no longer exists) differs from transformers 4.x's slow CLIPTokenizer without ftfy, which
  our tokenizers follow. Each entry gives the transformers ids of the prompt as typed and of an
  `equivalentText`: the prompt after the slow tokenizer's cleanup step that the fast one lacks, written by
  hand from the 4.x source (`BasicTokenizer._clean_text` / `_tokenize_chinese_chars`, Python `str.lower`).
  Our ids must equal the ids of `equivalentText` and so differ from those of the prompt as typed.
- `words`: transformers' tokens of single words and phrases (which ones split into several BPE pieces).
- `preTokenizerCases`: `regex.findall` of CLIP's pattern with IGNORECASE, as the slow tokenizer runs it,
  on text that its cleanup leaves unchanged.
- `tinyVocab`: a vocabulary from `reatco_models.bpe_train`, and the ids transformers gives with it.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import sys
import tempfile
import types
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = MODELS_DIR.parent
CLIP_DIR = (REPO_ROOT / "../shared/tokenizers/clip").resolve()
FIXTURE = REPO_ROOT / "helper-service/tests/fixtures/tokenizer/clip-reference.json"
MAX_LENGTH = 77
# The slow CLIPTokenizer's pre-tokenizer pattern, compiled with regex.IGNORECASE.
CLIP_PATTERN = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""

sys.path.insert(0, str(MODELS_DIR))

LONG_PROMPT = (
    "A highly detailed cinematic photograph of a majestic red fox walking through a snowy pine forest at dawn, "
    "soft golden light filtering between the tall trees, gentle mist rolling over the frozen ground, "
    "tiny ice crystals sparkling in the air, shallow depth of field, shot on a 35mm lens, "
    "award-winning nature photography, ultra realistic, 8k, trending on artstation, sharp focus, "
    "beautiful composition, volumetric lighting, and a small wooden cabin in the distance"
)

CASES = [
    # ReAtCo's own prompts
    "A jellyfish and a goldfish are swimming in the blue ocean.",
    "A cat and a swan are grazing in the grass.",
    "A cat, a rabbit, and a chicken are standing on a wall.",
    "a photo of a cat",
    "Two hares are grazing in the grass.",
    # empty and whitespace
    "",
    "   ",
    "  leading and trailing spaces   ",
    "tabs\tand\nnewlines\r\nmixed   \t together",
    "non\u00a0breaking\u3000ideographic\u2003em spaces",
    "line\u2028separator\u2029paragraph",
    # apostrophes and contractions
    "It's the dog's bone, isn't it? They'll say we'd've gone.",
    "I'M HERE, YOU'RE THERE, WE'VE GONE, SHE'LL STAY",
    "rock'n'roll, 'quoted', it\u2019s curly",
    # case
    "DON'T SHOUT: A RED CAR!!!",
    "UPPER lower MiXeD CaSe",
    "\u0130stanbul and ISTANBUL",
    "\uff21\uff22\uff23 fullwidth \uff11\uff12\uff13",
    # numbers
    "in 1999 it cost 3.5 dollars, or 10,000 yen",
    "3D render, 4k, 1080p, 2x zoom, 16:9",
    "50% off: $19.99 (today only) #sale @shop",
    "x\u00b2 plus H\u2082O, \u00bd cup, chapter \u216b",
    # punctuation
    "multiple!!! question??? ...ellipsis\u2026 \u2014 dashes \u2013 and \u201cquotes\u201d",
    "state-of-the-art, well-known, hyphen-ated words",
    "e-mail me@example.com or visit https://example.com/a_b?x=1&y=2",
    "&amp; &lt;b&gt; fish &amp; chips &#39;",
    "a cat<|endoftext|>a dog <|startoftext|>",
    # accents and composition
    "caf\u00e9, na\u00efve, Z\u00fcrich, fa\u00e7ade, cr\u00e8me br\u00fbl\u00e9e",
    "cafe\u0301 and nai\u0308ve, decomposed",
    "\ufb01sh ligature and \u00df sharp s",
    # non-Latin scripts without CJK ideographs
    "\u3072\u3089\u304c\u306a \u30ab\u30bf\u30ab\u30ca",
    "\uc11c\uc6b8\uc758 \ubc24",
    "\u041c\u043e\u0441\u043a\u0432\u0430 \u0437\u0438\u043c\u043e\u0439",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
    # emoji
    "a dog \U0001f436 wearing a hat \U0001f3a9",
    "\u2764\ufe0f love and \U0001f1ef\U0001f1f5 flag",
    "\U0001f600\U0001f600\U0001f600 triple",
    # multi-token words
    "an axolotl, a capybara and a pangolin",
    "jellyfishes and hares near a narwhal",
    # length: 75 content tokens fit, 76 do not
    " ".join(["cat"] * 75),
    " ".join(["cat"] * 76),
    LONG_PROMPT,
    LONG_PROMPT + " " + LONG_PROMPT,
]

DIVERGENCE = [
    ("\u6771\u4eac tower at night", "\u6771 \u4eac tower at night", "CJK ideographs become separate words"),
    ("\u98df\u3079\u308b sushi", "\u98df \u3079\u308b sushi", "CJK ideographs become separate words"),
    ("zero\u200bwidth \ufeffspace", "zerowidth space", "format characters (Cf) are removed"),
    ("co\u00adoperate", "cooperate", "the soft hyphen (Cf) is removed"),
    ("\U0001f469\u200d\U0001f680 astronaut", "\U0001f469\U0001f680 astronaut", "the zero-width joiner (Cf) is removed"),
    ("form\x0cfeed and\x0bvertical tab", "formfeed andvertical tab", "control characters (Cc) are removed"),
    ("next\x85line", "nextline", "control characters (Cc) are removed"),
    ("bad \ufffd byte", "bad  byte", "U+FFFD is removed"),
    ("private \ue000 use", "private  use", "private-use characters (Co) are removed"),
    (
        "\u039f\u0394\u039f\u03a3 \u03a3\u039f\u03a6\u039f\u03a3",
        "\u03bf\u03b4\u03bf\u03c2 \u03c3\u03bf\u03c6\u03bf\u03c2",
        "Python's str.lower() writes a word-final capital sigma as \u03c2",
    ),
    ("<|ENDOFTEXT|> dog", "<|endoftext|> dog", "lower-casing comes before the special-token match"),
    ("a\u0345b", "a b", "U+0345 matches no branch of the IGNORECASE pattern, so it separates like a space"),
]

WORDS = [
    "jellyfish", "goldfish", "cat", "swan", "rabbit", "chicken", "hares", "axolotl", "capybara", "pangolin",
    "narwhal", "jellyfishes", "teddy bear", "blue ocean", "Z\u00fcrich",
]

PRE_TOKENIZER_CASES = [
    "it's they'll we'd've i'm you're",
    "it'\u017f long s",
    "a\u0345b",
    "don''t 'tis ''s",
    "<|startoftext|>x<|endoftext|>!<|endoftext|>",
    "10,000 3.5 \u00bd\u216b",
    "!!!...\u2026 --> a_b",
]

SHAPES = ["circle", "square", "triangle", "star"]
COLORS = ["red", "blue", "green", "yellow", "white", "black"]
PATTERNS = ["striped", "dotted", "plain", "checkered"]
TINY_MERGES = 300


def tiny_captions() -> list[str]:
    """Captions in the style of the tiny test models' training data."""
    captions = []
    for i, shape in enumerate(SHAPES):
        for j, color in enumerate(COLORS):
            other = SHAPES[(i + j + 1) % len(SHAPES)]
            other_color = COLORS[(i + 2 * j + 1) % len(COLORS)]
            background = COLORS[(i + j + 3) % len(COLORS)]
            pattern = PATTERNS[(i + j) % len(PATTERNS)]
            captions.append(
                f"a {color} {shape} and a {other_color} {other} on a {background} {pattern} background"
            )
    captions += [
        "two hares are grazing in the grass",
        "a hare is grazing in the grass",
        "a cat and a swan are standing on a wall",
    ]
    return captions


TINY_UNSEEN = [
    "A purple hexagon, on a dotted background!",
    "three rabbits grazing",
    "Z\u00fcrich 2024",
]


def load_reference_tokenizer(directory: Path):
    """transformers' CLIPTokenizer for vocab.json + merges.txt in `directory` (and the shim used, or None).

    Debian's transformers 5.12.1 builds `RobertaProcessing(cls=...)`, which its tokenizers 0.23.1 renamed to
    `cls_token`; the shim only passes that argument by position. `CLIPTokenizer(vocab_file=..., merges_file=...)`
    is no way around it: transformers 5 ignores those keywords and returns an empty tokenizer.
    """
    from tokenizers import processors
    from transformers import CLIPTokenizer
    from transformers.models.clip import tokenization_clip

    try:
        return CLIPTokenizer.from_pretrained(str(directory)), None
    except TypeError as error:
        if "cls" not in str(error):
            raise

    def roberta_processing(sep, cls, **kwargs):
        return processors.RobertaProcessing(sep, cls, **kwargs)

    patched = {**vars(processors), "RobertaProcessing": roberta_processing}
    tokenization_clip.processors = types.SimpleNamespace(**patched)
    try:
        return CLIPTokenizer.from_pretrained(str(directory)), "RobertaProcessing(cls=...) passed by position"
    finally:
        tokenization_clip.processors = processors


def reference_ids(tokenizer, text: str) -> list[int]:
    ids = tokenizer(text, padding="max_length", max_length=MAX_LENGTH, truncation=True)["input_ids"]
    assert len(ids) == MAX_LENGTH, (text, len(ids))
    return list(ids)


def ftfy_available() -> bool:
    try:
        import ftfy  # noqa: F401
    except ImportError:
        return False
    return True


def build_fixture() -> dict:
    import regex

    from reatco_models.bpe_train import train_clip_bpe, write_clip_bpe

    tokenizer, shim = load_reference_tokenizer(CLIP_DIR)
    divergence = []
    for text, equivalent, reason in DIVERGENCE:
        typed, cleaned = reference_ids(tokenizer, text), reference_ids(tokenizer, equivalent)
        assert typed != cleaned, f"not a divergence: {text!r}"
        divergence.append(
            {"text": text, "transformersIds": typed, "equivalentText": equivalent, "ids": cleaned, "reason": reason}
        )

    captions = tiny_captions()
    vocab, merges = train_clip_bpe(captions, TINY_MERGES)
    with tempfile.TemporaryDirectory() as tiny_dir:
        write_clip_bpe(tiny_dir, vocab, merges)
        tiny_tokenizer, _ = load_reference_tokenizer(Path(tiny_dir))
        merges_text = (Path(tiny_dir) / "merges.txt").read_text(encoding="utf-8")
        tiny_cases = [{"text": t, "ids": reference_ids(tiny_tokenizer, t)} for t in captions + TINY_UNSEEN]

    pattern = regex.compile(CLIP_PATTERN, regex.IGNORECASE)
    return {
        "generator": "models/scripts/make_tokenizer_fixtures.py",
        "transformers_version": importlib.metadata.version("transformers"),
        "tokenizers_version": importlib.metadata.version("tokenizers"),
        "regex_version": importlib.metadata.version("regex"),
        "python_version": platform.python_version(),
        "ftfy": ftfy_available(),
        "tokenizer_class": f"{type(tokenizer).__module__}.{type(tokenizer).__qualname__}",
        "is_fast": tokenizer.is_fast,
        "compat_shim": shim,
        "call": f'tokenizer(text, padding="max_length", max_length={MAX_LENGTH}, truncation=True)',
        "source": "../shared/tokenizers/clip (vocab.json, merges.txt)",
        "cases": [{"text": t, "ids": reference_ids(tokenizer, t)} for t in CASES],
        "knownDivergence": divergence,
        "words": [{"word": w, "tokens": tokenizer.tokenize(w)} for w in WORDS],
        "preTokenizerCases": [{"text": t, "pieces": pattern.findall(t)} for t in PRE_TOKENIZER_CASES],
        "tinyVocab": {
            "numMerges": TINY_MERGES,
            "captions": captions,
            "vocab": vocab,
            "merges": merges_text,
            "cases": tiny_cases,
        },
    }


def to_json(fixture: dict) -> str:
    text = json.dumps(fixture, ensure_ascii=False, indent=1)
    # One line per id list keeps the file readable.
    text = re.sub(r"\[[\d,\s]+\]", lambda m: "[" + ",".join(re.findall(r"\d+", m.group(0))) + "]", text)
    assert json.loads(text) == fixture
    return text + "\n"


def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(to_json(build_fixture()), encoding="utf-8")
    print(f"wrote {FIXTURE.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
