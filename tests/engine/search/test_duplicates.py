"""The copy finder: exact copies by their words, near copies by vector and words together."""

from __future__ import annotations

import numpy as np

from engine.search.duplicates import CopyFinder, containment, shingles, text_key

NOTE = (
    "Feed the sourdough starter twice a day with equal weights of flour and water. Keep it "
    "at room temperature and discard half before each feeding, or it grows sour and slow."
)


def unit(seed: int, near: np.ndarray | None = None, noise: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=32) if near is None else near + noise * rng.normal(size=32)
    return (v / np.linalg.norm(v)).astype(np.float32)


def test_same_words_are_one_key_whatever_the_spacing() -> None:
    assert text_key(NOTE) == text_key(NOTE.upper().replace(" ", "\n  "))
    assert text_key(NOTE) != text_key(NOTE.replace("twice", "three times"))


def test_containment_is_taken_over_the_smaller_passage() -> None:
    half = NOTE[: len(NOTE) // 2]
    assert containment(shingles(half), shingles(NOTE)) > 0.9


def test_exact_near_and_unrelated() -> None:
    base = unit(1)
    vectors = {
        1: base,
        2: unit(2, base, 0.05),  # a lightly edited copy: cosine ~0.99
        3: unit(3, base, 0.05),  # as close in meaning, other words
        4: unit(4),  # unrelated
    }
    finder = CopyFinder(vectors)
    assert finder.add([(1, NOTE)]) == 0
    edited = NOTE.replace("twice a day", "two times daily") + " Label the jar with the date."
    assert finder.original_of(2, edited) == 0
    other_words = (
        "A rye levain likes warmth: refresh it each morning with whole rye flour, cover the "
        "crock loosely and let it rise until domed before baking the loaf in a hot oven."
    )
    assert finder.original_of(3, other_words) is None
    assert finder.original_of(4, NOTE.lower()) == 0  # the same words: a copy, whatever else
    assert finder.original_of(4, edited) is None  # the words agree but the meaning does not


def test_without_vectors_words_alone_decide() -> None:
    finder = CopyFinder({})
    finder.add([(1, NOTE)])
    assert finder.original_of(2, NOTE.replace("slow", "sluggish")) == 0
    assert finder.original_of(3, "Tomatoes need full sun and regular watering.") is None


def test_a_passage_split_over_two_of_the_shown_passages_is_a_copy() -> None:
    first, second = NOTE[:90], NOTE[90:]
    base = unit(1)
    finder = CopyFinder({1: base, 2: unit(2, base, 0.05), 3: unit(3, base, 0.05)})
    finder.add([(1, first), (2, second)])
    straddling = NOTE[45:150]  # cut elsewhere, as another format of the same text is
    assert finder.original_of(3, straddling) == 0
