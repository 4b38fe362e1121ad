"""Keyword queries are user text: nothing a person types may become an FTS5 error."""


from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.store import ChunkRow, Store
from engine.store.keyword import keyword_search, match_expression, matched_spans, query_terms

HOSTILE = [
    '"',
    '""',
    '"unbalanced',
    "(",
    ")",
    "((alpha)",
    "*",
    "alpha*",
    "AND",
    "OR",
    "NOT",
    "alpha AND",
    "NEAR(",
    "NEAR(alpha beta",
    "NEAR(alpha beta, 2)",
    "-",
    "- alpha",
    "alpha -beta",
    "^alpha",
    "text:alpha",
    "{text}: alpha",
    "🦊🔥",
    "alpha 🦊 beta",
    "'; DROP TABLE chunks; --",
    "\x00",
    "   ",
    "",
    "a" * 10_000,
    "alpha " * 2_000,
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store.open_in(tmp_path_factory.mktemp("kw"))
    folder = store.pin_folder("/docs")
    texts = ["alpha beta gamma", "the fox near the river", "NEAR and AND are words too"]
    for i, text in enumerate(texts):  # one passage per file: no neighbours
        store.record_file(
            folder_id=folder, path=f"/docs/{i}.txt", size=1, mtime=1.0, hash=f"h{i}",
            kind="text", state="indexed", chunks=[ChunkRow(0, 0, len(text), None, None, text)],
        )
    return store


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_query_returns_results_or_nothing(store: Store, query: str) -> None:
    hits = keyword_search(store.conn, query, 10)
    assert isinstance(hits, list)


def test_operator_words_are_searched_as_words(store: Store) -> None:
    assert len(keyword_search(store.conn, "NEAR(", 10)) == 2  # "near" in two passages
    assert keyword_search(store.conn, '"alpha', 10)[0].rank == 1


def test_neighbouring_passages_count_below_a_passage_s_own_words(tmp_path: Path) -> None:
    store = Store.open_in(tmp_path)
    folder = store.pin_folder("/docs")
    texts = ["the trial enrolled patients", "insulin resistance fell", "follow-up lasted a year"]
    _, ids = store.record_file(
        folder_id=folder, path="/docs/a.txt", size=1, mtime=1.0, hash="h", kind="text",
        state="indexed",
        chunks=[ChunkRow(i, 0, len(t), None, None, t) for i, t in enumerate(texts)],
    )
    lone = "an unrelated note"
    _, (other,) = store.record_file(
        folder_id=folder, path="/docs/b.txt", size=1, mtime=1.0, hash="h2", kind="text",
        state="indexed", chunks=[ChunkRow(0, 0, len(lone), None, None, lone)],
    )
    hits = keyword_search(store.conn, "insulin", 10)
    # The passage with the word first; both neighbours after it; the other file not at all.
    assert [h.chunk_id for h in hits][:1] == [ids[1]]
    assert {h.chunk_id for h in hits} == set(ids)
    assert hits[0].score > hits[1].score
    # Two query words split across a cut: the passages either side match both.
    both = keyword_search(store.conn, "enrolled insulin", 10)
    assert both[0].chunk_id in (ids[0], ids[1]) and other not in {h.chunk_id for h in both}
    store.close()


def test_ranking_prefers_more_matching_terms(store: Store) -> None:
    hits = keyword_search(store.conn, "alpha gamma fox", 10)
    assert hits[0].score >= hits[-1].score


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_a_valid_query(query: str) -> None:
    expression = match_expression(query)
    assert expression is None or expression.count('"') % 2 == 0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_searches_without_error(store: Store, query: str) -> None:
    keyword_search(store.conn, query, 5)


def test_stopwords_dropped_only_when_content_words_remain() -> None:
    assert query_terms("the effect of the drug") == ["effect", "drug"]
    assert query_terms("to be or the") == ["to", "be", "or", "the"]
    assert len(query_terms("w" + " w".join(str(i) for i in range(500)))) == 64


def test_matched_spans_point_at_words() -> None:
    text = "Running dogs ran; the DOG runs."
    spans = matched_spans(text, "dog running")
    assert [text[s:e] for s, e in spans] == ["Running", "dogs", "DOG"]
