"""Word pieces put together from kept words are the tokenizer's own for the whole page: the
real packaged tokenizer on pages with the characters where that could go wrong."""

from __future__ import annotations

import random

import pytest

from engine.ingest.chunk import PassageTokenizer
from engine.ingest.word_pieces import WordPieces

# What a normalizer or pre-tokenizer treats specially: accents (stripped), CJK (split per
# character), control characters (deleted, joining what is either side), Unicode spaces
# (split at, though not one of the four the cache splits at), punctuation, a word over
# BERT's 100 characters (one [UNK]), a lone surrogate (from surrogateescape decoding),
# capitals that lower-case to two characters, and every kind of line break.
PIECES = [
    "café", "naïve", "Ångström", "東京都", "한국어", "a\x00b", "x\x1fy", "no\u00a0break",
    "em\u2003space", "(parens)", "e.g.,", "don't", "C++", "x" * 150, "bad\udcffbyte",
    "İstanbul", "ﬁne", "\u200bzero", "2.5e-3", "snake_case", "CamelCase", "😀emoji",
    "tab\there", "line\nbreak", "crlf\r\nend", "form\x0cfeed", "river", "the", "a",
]
SPACES = [" ", "  ", "\n", "\t", "\r\n", "\n\n", " \t "]


def _whole(tokenizer: PassageTokenizer, text: str) -> tuple[list[int], list[int], list[int]]:
    ids, spans = tokenizer.encode(text)
    return ids, [s for s, _ in spans], [e for _, e in spans]


def _page(rng: random.Random, words: int) -> str:
    parts = [rng.choice(SPACES) if rng.random() < 0.1 else ""]
    for _ in range(words):
        parts += [rng.choice(PIECES), rng.choice(SPACES)]
    return "".join(parts[: -1 if rng.random() < 0.5 else None])


def test_pages_come_out_as_the_tokenizer_makes_them(passage_tokenizer: PassageTokenizer) -> None:
    assert passage_tokenizer.splits_at_spaces  # the packaged model: the cache is used
    rng = random.Random(3)
    for words in (0, 1, 2, 7, 40, 300):
        for _ in range(20):
            page = _page(rng, words)
            assert passage_tokenizer.pieces(page) == _whole(passage_tokenizer, page), page


def test_a_full_cache_starts_again_and_stays_exact(passage_tokenizer: PassageTokenizer) -> None:
    pieces = WordPieces(passage_tokenizer.encode, max_words=12)
    rng = random.Random(5)
    for _ in range(50):
        page = _page(rng, 30)
        assert pieces.encode(page) == _whole(passage_tokenizer, page)
        assert pieces._words <= 12 or len(set(page.split())) > 6


@pytest.mark.parametrize("page", ["", " ", "\n\n\t", "\x00", "\x00 \x01"])
def test_pages_without_pieces(passage_tokenizer: PassageTokenizer, page: str) -> None:
    assert passage_tokenizer.pieces(page) == ([], [], []) == _whole(passage_tokenizer, page)
