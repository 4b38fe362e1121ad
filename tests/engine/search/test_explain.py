"""Attributions on the real model add up exactly and point at the right characters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import EmbedConfig
from engine.embed.transformer import TransformerEncoder
from engine.search.explain import explain_passages
from engine.search.explanation import Explanation, fold_words

pytestmark = pytest.mark.model

PAIRS = [
    ("how do plants turn sunlight into energy",
     "Photosynthesis converts light energy into chemical energy stored in glucose."),
    ("side effects of aspirin", "Aspirin can cause stomach bleeding and ulcers in some people."),
    ("who wrote the theory of relativity", "The cat sat on the mat, purring quietly."),
    ("naïve café résumé", "Un café naïf: le résumé de l’ﬁlm — ﬁn.  \u00a0 Tabs\tand\u2003spaces."),
    ("数据库索引", "数据库索引可以加快查询速度。Indexes speed up queries."),
]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> TransformerEncoder:
    return TransformerEncoder(EmbedConfig(), tmp_path_factory.mktemp("cache"))


def _check_complete(e: Explanation) -> None:
    passage_total = sum(w for _, _, w in e.passage_spans) + e.special_share
    query_total = sum(w for _, _, w in e.query_spans) + e.query_special_share
    assert abs(passage_total - e.score) <= 1e-3
    assert abs(query_total - e.score) <= 1e-3
    if e.method == "exact-mean-pooling":
        pair_total = sum(p[4] for p in e.pairs) + e.pairs_rest + e.pairs_special
        assert abs(pair_total - e.score) <= 1e-3


@pytest.mark.parametrize(("query", "passage"), PAIRS)
def test_exact_decomposition_adds_up_to_the_model_score(
    encoder: TransformerEncoder, query: str, passage: str
) -> None:
    (e,) = explain_passages(encoder, query, [(passage, 100)])
    assert e.method == "exact-mean-pooling"
    _check_complete(e)
    cosine = float(encoder.encode_queries([query])[0] @ encoder.encode_passages([passage])[0])
    assert abs(e.score - cosine) < 0.02  # same model; only the number format differs
    doc = "x" * 100 + passage
    for start, end, _ in e.passage_spans:
        assert 100 <= start < end <= 100 + len(passage)
        assert doc[start:end].strip() == doc[start:end]
    for q_start, q_end, p_start, p_end, _ in e.pairs:
        assert query[q_start:q_end].strip() and doc[p_start:p_end].strip()
    assert [p[4] for p in e.pairs] == sorted((p[4] for p in e.pairs), reverse=True)


def test_the_matching_words_carry_the_weight(encoder: TransformerEncoder) -> None:
    query = "aspirin side effects"
    passage = "The weather was mild. Aspirin may cause stomach bleeding. The bus was late."
    (e,) = explain_passages(encoder, query, [(passage, 0)])
    top = max(e.passage_spans, key=lambda s: s[2])
    assert passage[top[0] : top[1]].lower() == "aspirin"
    assert query[e.query_spans[0][0] : e.query_spans[0][1]] == "aspirin"
    best_pair = e.pairs[0]
    assert passage[best_pair[2] : best_pair[3]].lower() in {"aspirin", "bleeding", "stomach"}


def test_batch_matches_one_by_one(encoder: TransformerEncoder) -> None:
    query, passages = PAIRS[0][0], [(p, 0) for _, p in PAIRS]
    batch = explain_passages(encoder, query, passages)
    for e, item in zip(batch, passages, strict=True):
        (single,) = explain_passages(encoder, query, [item])
        assert abs(e.score - single.score) < 0.01
        _check_complete(e)


def test_cls_pooling_falls_back_to_integrated_gradients(tmp_path: Path) -> None:
    cls_encoder = TransformerEncoder(EmbedConfig(pooling="cls", precision="fp32"), tmp_path)
    (e,) = explain_passages(cls_encoder, *PAIRS[1][:1], [(PAIRS[1][1], 0)])
    assert e.method.startswith("integrated-gradients-")
    _check_complete(e)
    assert e.pairs == []
    assert max(e.passage_spans, key=lambda s: abs(s[2]))[2] != 0


# Multibyte letters, ligatures, a combining accent, CJK, emoji and odd whitespace.
_ALPHABET = list("abcdeﬁﬂ éàüß中文字😀 \t\n\u00a0\u2003\u200b.,;-'’\u0301")
_TEXT = st.text(alphabet=st.sampled_from(_ALPHABET), min_size=1, max_size=120)
_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(text=_TEXT, start=st.integers(0, 1000))
def test_span_offsets_point_into_the_text(
    encoder: TransformerEncoder, text: str, start: int
) -> None:
    (e,) = explain_passages(encoder, "query words", [(text, start)])
    previous_end = start
    for s, end, _ in e.passage_spans:
        assert previous_end <= s < end <= start + len(text)
        piece = text[s - start : end - start]
        assert piece == piece.strip() and piece
        previous_end = end
    _check_complete(e)


def test_fold_words_keeps_punctuation_apart() -> None:
    text = "unbelievable galaxy."
    offsets = [(0, 0), (0, 2), (2, 9), (9, 12), (13, 19), (19, 20), (0, 0)]
    special = [True, False, False, False, False, False, True]
    words, owner = fold_words(text, offsets, special)
    assert [text[s:e] for s, e in words] == ["unbelievable", "galaxy", "."]
    assert owner.tolist() == [-1, 0, 0, 0, 1, 2, -1]
    assert np.all(owner[[0, 6]] == -1)
