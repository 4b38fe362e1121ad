"""ResultDelegate paints rows with attribution highlights; QueryWordsBar picks the word to focus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QListView, QWidget

from desktop.query_words import QueryWordsBar
from desktop.result_delegate import MAX_ALPHA, MAX_PASSAGE_LINES, ResultDelegate
from desktop.results_model import ResultRole, ResultsModel

pytestmark = pytest.mark.gui

EXAMPLE = Path(__file__).parent / "data" / "search_explain.json"


@pytest.fixture
def answer() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture
def model(answer: dict[str, Any]) -> ResultsModel:
    model = ResultsModel()
    model.set_response(answer)
    return model


@pytest.fixture
def view(qtbot: Any, model: ResultsModel) -> QListView:
    view = QListView()
    qtbot.add_widget(view)
    ResultDelegate(view).attach(view)
    view.setModel(model)
    view.resize(560, 480)
    view.show()
    qtbot.wait_exposed(view)
    return view


def delegate_of(view: QListView) -> ResultDelegate:
    delegate = view.itemDelegate()
    assert isinstance(delegate, ResultDelegate)
    return delegate


def tinted_pixels(image: QImage, highlight: QColor) -> int:
    """Pixels of the highlight's hue blended on the base: the attribution marks."""
    count = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            c = image.pixelColor(x, y)
            if c.blue() - c.red() > 25 and abs(c.hue() - highlight.hue()) < 20:
                count += 1
    return count


def test_rows_have_consistent_size_hints(view: QListView, model: ResultsModel) -> None:
    bottom = 0
    for row in range(model.rowCount()):
        index = model.index(row)
        rect = view.visualRect(index)
        hint = view.sizeHintForIndex(index)
        assert rect.height() == hint.height() > 40
        assert rect.width() == view.viewport().width()
        assert rect.top() == bottom
        bottom = rect.bottom() + 1
    view.resize(300, 480)  # narrower: the passage wraps onto more lines
    assert view.visualRect(model.index(0)).height() > rect.height()


def test_view_renders_highlights(view: QListView, answer: dict[str, Any]) -> None:
    highlight = view.palette().color(view.palette().ColorRole.Highlight)
    marked = tinted_pixels(view.grab().toImage(), highlight)
    for hit in answer["results"]:
        del hit["explanation"]
    plain_model = ResultsModel(view)
    plain_model.set_response(answer)
    view.setModel(plain_model)
    view.clearSelection()
    plain = tinted_pixels(view.grab().toImage(), highlight)
    assert marked > 200
    assert marked > 5 * max(plain, 1)


def test_highlights_hit_the_strongest_words(model: ResultsModel) -> None:
    delegate = ResultDelegate()
    for row in range(model.rowCount()):
        index = model.index(row)
        text = index.data(ResultRole.Text)
        ranges = delegate.highlight_ranges(index)
        assert ranges, "every explained row has highlights"
        strongest = max(ranges, key=lambda r: r[2])
        assert text[strongest[0] : strongest[1]] == "flights"
        assert strongest[2] == MAX_ALPHA
        assert all(0 <= s < e <= len(text) and 0 < a <= 255 for s, e, a in ranges)
        assert "Document" not in {text[s:e] for s, e, _ in ranges}  # weight 0.002: too weak


def test_focused_query_word_limits_highlights_to_its_pairs(qtbot: Any,
                                                           model: ResultsModel) -> None:
    delegate = ResultDelegate()
    index = model.index(0)
    text = index.data(ResultRole.Text)
    paired = {(s, e) for a, b, s, e, w in index.data(ResultRole.Pairs) if (a, b) == (0, 4)
              and w > 0}
    with qtbot.wait_signal(delegate.changed):
        delegate.set_focus_query_span((0, 4))  # "bird"
    ranges = delegate.highlight_ranges(index)
    assert {(s, e) for s, e, _ in ranges} <= paired
    words = [text[s:e] for s, e, _ in sorted(ranges, key=lambda r: -r[2])]
    assert words[:2] == ["flights", "terns"]
    with qtbot.assert_not_emitted(delegate.changed):
        delegate.set_focus_query_span((0, 4))
    with qtbot.wait_signal(delegate.changed):
        delegate.set_focus_query_span(None)
    assert delegate.highlight_ranges(index) != ranges  # back to the passage attribution


def test_focus_repaints_the_view(qtbot: Any, view: QListView) -> None:
    before = view.grab().toImage()
    delegate_of(view).set_focus_query_span((5, 12))
    after = view.grab().toImage()
    assert before != after


def test_long_and_odd_text_is_elided_to_a_few_lines(answer: dict[str, Any]) -> None:
    hit = answer["results"][0]
    base = "🐦 tern\r\n\n  flies " * 400
    hit["text"], hit["end"] = base, len(base)
    hit["explanation"]["passage_spans"] = [[len(base) - 6, len(base) - 1, 0.9], [2, 6, 0.5]]
    hit["explanation"]["keyword_spans"] = [[len(base) - 6, len(base) - 1]]
    model = ResultsModel()
    model.set_response(answer)
    view = QListView()
    delegate = ResultDelegate(view)
    delegate.attach(view)
    view.setModel(model)
    view.resize(400, 600)
    long_row = view.sizeHintForIndex(model.index(0)).height()
    short_row = view.sizeHintForIndex(model.index(1)).height()
    line = view.fontMetrics().height()
    assert short_row < long_row <= short_row + MAX_PASSAGE_LINES * line
    image = QImage(view.size(), QImage.Format.Format_ARGB32_Premultiplied)
    view.render(image)  # the span past the ellipsis is dropped, not painted out of bounds


def test_row_without_explanation_or_text(qtbot: Any) -> None:
    model = ResultsModel()
    model.set_response({"query": "q", "results": [{"path": "/x/y.bin"}, {"path": "z"}]})
    view = QListView()
    qtbot.add_widget(view)
    ResultDelegate(view).attach(view)
    view.setModel(model)
    view.resize(300, 200)
    view.show()
    qtbot.wait_exposed(view)
    assert delegate_of(view).highlight_ranges(model.index(0)) == []
    assert view.visualRect(model.index(1)).height() > 0
    view.grab()


# QueryWordsBar


@pytest.fixture
def bar(qtbot: Any) -> Iterator[QueryWordsBar]:
    host = QWidget()  # the bar lives inside the window, never as a window of its own
    qtbot.add_widget(host)
    bar = QueryWordsBar(host)
    bar.set_query("bird flights", [(0, 4, 0.085985), (5, 12, 0.145963)])
    host.resize(400, 40)
    bar.resize(400, 40)
    host.show()
    qtbot.wait_exposed(host)
    yield bar  # holds `host` alive: qtbot keeps only a weak reference


def test_words_become_chips(bar: QueryWordsBar) -> None:
    assert [chip.word for chip in bar.chips] == ["bird", "flights"]
    assert [chip.span for chip in bar.chips] == [(0, 4), (5, 12)]
    assert bar.chips[1].strength == 1.0 > bar.chips[0].strength > 0
    assert bar.isVisible()
    bar.set_query("", [])
    assert bar.chips == []
    assert not bar.isVisible()
    bar.set_query("a b c", [(0, 1, 0.1), (2, 3, -0.1), (4, 5, 0.3)])
    assert len(bar.chips) == 3
    assert bar.chips[1].strength == 0.0


def test_hovering_a_chip_focuses_its_word(qtbot: Any, bar: QueryWordsBar) -> None:
    chip = bar.chips[1]
    with qtbot.wait_signal(bar.word_hovered) as hovered:
        qtbot.mouseMove(chip, chip.rect().center())
    assert hovered.args == [5, 12]
    assert bar.focused_span == (5, 12)
    with qtbot.wait_signal(bar.word_left):
        qtbot.mouseMove(bar, QPoint(bar.width() - 2, 2))
    assert bar.focused_span is None


def test_clicking_a_chip_keeps_its_word(qtbot: Any, bar: QueryWordsBar) -> None:
    chip = bar.chips[0]
    qtbot.mouseMove(chip, chip.rect().center())
    qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    assert chip.pinned
    with qtbot.assert_not_emitted(bar.word_left):
        qtbot.mouseMove(bar, QPoint(bar.width() - 2, 2))
    assert bar.focused_span == (0, 4)
    other = bar.chips[1]
    with qtbot.wait_signal(bar.word_hovered) as hovered:
        qtbot.mouseMove(other, other.rect().center())
    assert hovered.args == [5, 12]
    with qtbot.wait_signal(bar.word_hovered) as back:
        qtbot.mouseMove(bar, QPoint(bar.width() - 2, 2))
    assert back.args == [0, 4]  # back to the kept word
    qtbot.mouseMove(chip, chip.rect().center())
    qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)  # unpin
    with qtbot.wait_signal(bar.word_left):
        qtbot.mouseMove(bar, QPoint(bar.width() - 2, 2))


def test_new_query_drops_the_focus(qtbot: Any, bar: QueryWordsBar) -> None:
    chip = bar.chips[0]
    qtbot.mouseMove(chip, chip.rect().center())
    qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    with qtbot.wait_signal(bar.word_left):
        bar.set_query("other words", [(0, 5, 0.2), (6, 11, 0.1)])
    assert bar.focused_span is None
