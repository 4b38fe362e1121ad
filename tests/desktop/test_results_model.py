"""ResultsModel reads the engine's search answer into rows, with spans local to each passage."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDateTime, Qt

from desktop.results_model import ResultRole, ResultsModel

pytestmark = pytest.mark.gui

EXAMPLE = Path(__file__).parent / "data" / "search_explain.json"


@pytest.fixture
def answer() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def shifted(answer: dict[str, Any], by: int) -> dict[str, Any]:
    """The example as if its passages sat `by` characters into their files."""
    moved = copy.deepcopy(answer)
    for hit in moved["results"]:
        hit["start"] += by
        hit["end"] += by
        exp = hit["explanation"]
        exp["passage_spans"] = [[s + by, e + by, w] for s, e, w in exp["passage_spans"]]
        exp["keyword_spans"] = [[s + by, e + by] for s, e in exp["keyword_spans"]]
        exp["pairs"] = [[a, b, s + by, e + by, w] for a, b, s, e, w in exp["pairs"]]
    return moved


def test_model_passes_qt_model_tester(qtmodeltester: Any, answer: dict[str, Any]) -> None:
    model = ResultsModel()
    model.set_response(answer)
    qtmodeltester.check(model)
    model.clear()
    qtmodeltester.check(model)
    assert model.rowCount() == 0


def test_roles_give_the_first_result(answer: dict[str, Any]) -> None:
    model = ResultsModel()
    model.set_response(answer)
    hit = answer["results"][0]
    index = model.index(0)
    assert model.rowCount() == len(answer["results"])
    assert (model.query, model.mode, model.confident) == ("bird flights", "hybrid", True)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "d11.txt"
    assert index.data(Qt.ItemDataRole.ToolTipRole) == hit["path"]
    assert index.data(ResultRole.Path) == hit["path"]
    assert index.data(ResultRole.Name) == "d11.txt"
    assert index.data(ResultRole.Folder) == "/tmp/smoke/docs"
    assert index.data(ResultRole.Page) is None
    assert (index.data(ResultRole.Start), index.data(ResultRole.End)) == (0, 87)
    assert index.data(ResultRole.Text) == hit["text"]
    assert index.data(ResultRole.Score) == pytest.approx(hit["score"])
    assert index.data(ResultRole.ScoreFraction) == pytest.approx(1.0)
    fraction = model.index(2).data(ResultRole.ScoreFraction)
    assert fraction == pytest.approx(answer["results"][2]["score"] / hit["score"])
    modified = index.data(ResultRole.Modified)
    assert isinstance(modified, QDateTime)
    assert modified.toSecsSinceEpoch() == int(hit["mtime"])
    assert index.data(ResultRole.Reason) == "matched by meaning and your words"
    assert index.data(ResultRole.Explained) is True
    assert index.data(ResultRole.Heading) is None
    assert index.data(ResultRole.More) == []
    assert index.data(ResultRole.QuerySpans) == [(0, 4, 0.085985), (5, 12, 0.145963)]
    assert index.data(ResultRole.KeywordSpans) == [(69, 76)]


def test_role_names_cover_every_role() -> None:
    names = ResultsModel().roleNames()
    assert names[ResultRole.Path].data() == b"path"
    assert names[ResultRole.ScoreFraction].data() == b"scoreFraction"
    assert {int(role) for role in ResultRole} <= set(names)
    assert int(ResultRole.Path) == int(Qt.ItemDataRole.UserRole) + 1


@pytest.mark.parametrize("by", [0, 1234])
def test_spans_become_local_to_the_passage(answer: dict[str, Any], by: int) -> None:
    moved = shifted(answer, by)
    model = ResultsModel()
    model.set_response(moved)
    for row, hit in enumerate(moved["results"]):
        index = model.index(row)
        text, start = hit["text"], hit["start"]
        exp = hit["explanation"]
        spans = index.data(ResultRole.PassageSpans)
        positive = [(s, e) for s, e, w in exp["passage_spans"] if w > 0]
        assert [text[s:e] for s, e, _ in spans] == [text[s - start : e - start]
                                                   for s, e in positive]
        assert all(w > 0 for _, _, w in spans)
        assert [text[s:e] for s, e in index.data(ResultRole.KeywordSpans)] == [
            text[s - start : e - start] for s, e in exp["keyword_spans"]]
        pairs = index.data(ResultRole.Pairs)
        assert len(pairs) == len(exp["pairs"])
        for (q0, q1, p0, p1, w), raw in zip(pairs, exp["pairs"], strict=True):
            assert (q0, q1, w) == (raw[0], raw[1], raw[4])
            assert text[p0:p1] == text[raw[2] - start : raw[3] - start]


def test_strongest_word_of_the_first_result(answer: dict[str, Any]) -> None:
    model = ResultsModel()
    model.set_response(answer)
    index = model.index(0)
    s, e, _ = max(index.data(ResultRole.PassageSpans), key=lambda span: span[2])
    assert index.data(ResultRole.Text)[s:e] == "flights"


def test_spans_are_clipped_to_the_text(answer: dict[str, Any]) -> None:
    hit = answer["results"][0]
    hit["explanation"]["passage_spans"] = [[-5, 8, 0.5], [80, 500, 0.4], [200, 300, 0.3]]
    hit["explanation"]["keyword_spans"] = [[84, 99]]
    model = ResultsModel()
    model.set_response(answer)
    index = model.index(0)
    assert index.data(ResultRole.PassageSpans) == [(0, 8, 0.5), (80, 87, 0.4)]
    assert index.data(ResultRole.KeywordSpans) == [(84, 87)]


def test_more_passages_carry_local_spans(answer: dict[str, Any]) -> None:
    first, second = answer["results"][0], shifted(answer, 500)["results"][1]
    second["path"] = first["path"]
    first["more"] = [second]
    first["page"] = 3
    model = ResultsModel()
    model.set_response(answer)
    (more,) = model.index(0).data(ResultRole.More)
    assert model.index(0).data(ResultRole.Page) == 3
    assert more["start"] == 500
    assert more["reason"] == second["explanation"]["reason"]
    s, e, _ = max(more["passage_spans"], key=lambda span: span[2])
    assert more["text"][s:e] == "flights"
    assert isinstance(more["modified"], QDateTime)


def test_answer_without_explanations(answer: dict[str, Any]) -> None:
    for hit in answer["results"]:
        del hit["explanation"]
    model = ResultsModel()
    model.set_response(answer)
    index = model.index(0)
    assert index.data(ResultRole.Explained) is False
    assert index.data(ResultRole.PassageSpans) == []
    assert index.data(ResultRole.Pairs) == []
    assert index.data(ResultRole.Reason) == ""
    assert index.data(ResultRole.Text) == answer["results"][0]["text"]


def test_empty_answer() -> None:
    model = ResultsModel()
    model.set_response({"query": "", "mode": "hybrid", "confident": False, "elapsed_ms": 1.0,
                        "results": []})
    assert model.rowCount() == 0
    assert model.query == ""
    assert model.data(model.index(0), ResultRole.Path) is None


def test_malformed_fields_do_not_crash(caplog: pytest.LogCaptureFixture) -> None:
    answer = {
        "query": None,
        "results": [
            {"path": "/a/b.txt"},  # nothing but a path
            {"text": "no path"},  # skipped
            "not a dict",  # skipped
            {"path": "/a/c.pdf", "page": "x", "start": "0", "text": 5, "score": None,
             "mtime": "yesterday", "more": "none",
             "explanation": {"passage_spans": [[0], None, [0, 1, "w"], [1, 2, 0.5]],
                             "pairs": [[0, 1, 2]], "query_spans": "x", "reason": None}},
        ],
    }
    model = ResultsModel()
    model.set_response(answer)
    assert model.rowCount() == 2
    for row in range(model.rowCount()):
        for role in ResultRole:
            model.index(row).data(role)
    bare = model.index(0)
    assert bare.data(ResultRole.Text) == ""
    assert bare.data(ResultRole.Modified) is None
    assert bare.data(ResultRole.More) == []
    broken = model.index(1)
    assert broken.data(ResultRole.Page) is None
    assert broken.data(ResultRole.PassageSpans) == []  # text is empty: nothing to point into
    assert broken.data(ResultRole.Explained) is True
    assert "skipped a result without a path" in caplog.text
    model.set_response({})
    assert model.rowCount() == 0


def test_score_fraction_guards_a_zero_best_score(answer: dict[str, Any]) -> None:
    for hit in answer["results"]:
        hit["score"] = 0.0
    model = ResultsModel()
    model.set_response(answer)
    assert model.index(0).data(ResultRole.ScoreFraction) == 0.0


def test_set_response_resets_the_model(qtbot: Any, answer: dict[str, Any]) -> None:
    model = ResultsModel()
    with qtbot.wait_signals([model.modelAboutToBeReset, model.modelReset]):
        model.set_response(answer)
    with qtbot.wait_signal(model.modelReset):
        model.clear()
    assert (model.query, model.mode, model.confident) == ("", "", False)


def test_explanations_merge_into_rows_in_place(qtbot: Any) -> None:
    from tests.conftest import REPO_ROOT

    explained = json.loads((REPO_ROOT / "tests/desktop/data/search_explain.json").read_text())
    bare = copy.deepcopy(explained)
    for item in bare["results"]:
        item.pop("explanation", None)
    model = ResultsModel()
    model.set_response(bare)
    assert not model.index(0, 0).data(ResultRole.Explained)
    with qtbot.waitSignal(model.dataChanged, timeout=1000):
        merged = model.merge_explanations(explained)
    assert merged == len(explained["results"])
    assert model.index(0, 0).data(ResultRole.Explained)
    assert model.index(0, 0).data(ResultRole.PassageSpans)
    other_query = {**explained, "query": "something else"}
    assert model.merge_explanations(other_query) == 0
