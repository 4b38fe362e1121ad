"""BERT's WordPiece in Python gives the packaged tokenizer's own pieces, word by word and
joined, on the words where it could go wrong; words it cannot do exactly it leaves alone."""

from __future__ import annotations

import random
import string

import numpy as np
import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from engine.ingest import ascii_pieces
from engine.ingest.ascii_pieces import AsciiWordPiece
from engine.ingest.chunk import PassageTokenizer
from engine.ingest.word_pieces import WordPieces

PRINTABLE = string.ascii_letters + string.digits + string.punctuation
# Long runs either side of WordPiece's 100 characters (one [UNK] past it), runs with no
# piece for some letter (one [UNK] for the run), capitals, digits, and punctuation alone.
WORDS = [
    "a", "The", "river's", "os.path.join(a,", "__init__", "C++", "2.5e-3", "0x1F",
    "snake_case", "CamelCaseWord", "HTTPServer", "a" * 99, "a" * 100, "a" * 101,
    "b" * 100 + "." + "c" * 101, "~!@#$%^&*()", "--", "[", "]", "[x]", "UNK", "##ing",
    "antidisestablishmentarianism", "qqqqzzzzxxxx", "e.g.,", "don't", "https://x.org/a?b=1",
]


def _alone(tokenizer: PassageTokenizer, text: str) -> tuple[list[int], list[int], list[int]]:
    ids, spans = tokenizer.encode(text)
    return ids, [s for s, _ in spans], [e for _, e in spans]


def _random_words(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(PRINTABLE) for _ in range(rng.randint(1, 24))) for _ in range(n)]


@pytest.fixture
def fast(passage_tokenizer: PassageTokenizer) -> AsciiWordPiece:
    made = AsciiWordPiece.of(passage_tokenizer._backend)
    assert made is not None  # the packaged model is BERT's: the fast path is there
    return made


def test_each_word_as_the_tokenizer_makes_it(
    fast: AsciiWordPiece, passage_tokenizer: PassageTokenizer
) -> None:
    words = WORDS + _random_words(random.Random(7), 3000)
    for word in words:
        assert fast.covers(word), word
        ids, starts, ends = fast.encode(word)
        assert (ids.tolist(), starts.tolist(), ends.tolist()) == _alone(
            passage_tokenizer, word), word


def test_words_joined_as_the_tokenizer_makes_them(
    fast: AsciiWordPiece, passage_tokenizer: PassageTokenizer
) -> None:
    rng = random.Random(11)
    for size in (1, 2, 10, 500):
        words = [rng.choice(WORDS) if rng.random() < 0.3 else w
                 for w in _random_words(rng, size)]
        text = " ".join(words)
        ids, starts, ends = fast.encode(text)
        assert (ids.tolist(), starts.tolist(), ends.tolist()) == _alone(passage_tokenizer, text)
        assert ids.dtype == np.int32


@pytest.mark.parametrize(
    "word",
    ["café", "東京", "tab\there", "a\x00b", "x\x7fy", "no\u00a0break", "[SEP]", "a[MASK]b",
     "[sep]", "x[Cls]", "[PAD]"],
)
def test_words_it_cannot_do_exactly_are_left_to_the_tokenizer(
    fast: AsciiWordPiece, word: str
) -> None:
    assert not fast.covers(word)


def test_a_full_table_starts_again_and_stays_exact(
    fast: AsciiWordPiece, passage_tokenizer: PassageTokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ascii_pieces, "MAX_RUNS", 40)
    rng = random.Random(13)
    for _ in range(30):
        text = " ".join(_random_words(rng, 12))
        ids, starts, ends = fast.encode(text)
        assert (ids.tolist(), starts.tolist(), ends.tolist()) == _alone(passage_tokenizer, text)
        assert len(fast._index) <= 40 + 12 * 24


def test_pages_mixing_both_kinds_of_word(passage_tokenizer: PassageTokenizer) -> None:
    pieces = WordPieces.of(passage_tokenizer._backend, passage_tokenizer.encode)
    assert pieces._ascii is not None
    rng = random.Random(17)
    others = ["café", "東京都", "[SEP]", "x\x1fy", "naïve", "İstanbul"]
    for _ in range(40):
        words = [rng.choice(others) if rng.random() < 0.3 else rng.choice(WORDS)
                 for _ in range(rng.randint(1, 60))]
        page = rng.choice([" ", "\n", "  "]).join(words)
        assert pieces.encode(page) == _alone(passage_tokenizer, page), page


def test_no_fast_path_for_a_tokenizer_that_is_not_berts() -> None:
    vocab = {"[UNK]": 0, "a": 1, "b": 2, "##b": 3}
    bert_like = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    bert_like.normalizer = normalizers.BertNormalizer()
    bert_like.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    assert AsciiWordPiece.of(bert_like) is not None
    bert_like.add_special_tokens(["a b"])  # an added token across two words
    assert AsciiWordPiece.of(bert_like) is None
    other_split = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    other_split.normalizer = normalizers.BertNormalizer()
    other_split.pre_tokenizer = pre_tokenizers.Whitespace()
    assert AsciiWordPiece.of(other_split) is None
    other_model = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    other_model.normalizer = normalizers.BertNormalizer()
    other_model.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    assert AsciiWordPiece.of(other_model) is None
    no_normalizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    no_normalizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    assert AsciiWordPiece.of(no_normalizer) is None


def test_a_cased_vocabulary_keeps_its_capitals() -> None:
    vocab = {"[UNK]": 0, "Ab": 1, "ab": 2, "##C": 3, "##c": 4, "A": 5, ".": 6}
    cased = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    cased.normalizer = normalizers.BertNormalizer(lowercase=False)
    cased.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    fast = AsciiWordPiece.of(cased)
    assert fast is not None
    for text in ["AbC", "abc", "Abc.ab", "A.AbC", "x", "ABC"]:
        ids, starts, ends = fast.encode(text)
        got = cased.encode(text, add_special_tokens=False)
        assert ids.tolist() == got.ids, text
        assert list(zip(starts.tolist(), ends.tolist(), strict=True)) == got.offsets, text
