"""Holds a search answer as list rows that views and delegates read by role, one row per file;
`result_rows` knows the engine's JSON, this model what the view asks.

A path read through a role is only fit to show: PySide6 silently drops the lone surrogates of a
str it turns into a QString, and a name that is not UTF-8 holds them (os.fsdecode). Whatever
acts on a file (preview, open, "more like this") takes it from the row itself: `row_at`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt

from desktop.result_rows import ResultRow, modified_time, parse_row
from engine.serve.display import display_path

log = logging.getLogger(__name__)
AnyIndex = QModelIndex | QPersistentModelIndex


class ResultRole(IntEnum):
    Path = int(Qt.ItemDataRole.UserRole) + 1
    Name = Path + 1
    Folder = Path + 2
    Page = Path + 3
    Start = Path + 4
    End = Path + 5
    Text = Path + 6
    Score = Path + 7
    ScoreFraction = Path + 8
    Modified = Path + 9
    PassageSpans = Path + 10
    KeywordSpans = Path + 11
    Pairs = Path + 12
    QuerySpans = Path + 13
    Reason = Path + 14
    More = Path + 15
    Heading = Path + 16
    Explained = Path + 17
    Expanded = Path + 18  # the file's other passages are folded out under the first
    Confident = Path + 19  # the engine is confident this one matches (its calibrated threshold)
    WeakerStart = Path + 20  # the first weaker match after confident ones: a divider above it
    AlsoIn = Path + 21  # other files holding the same passage: [{"path", "name", "folder", "page"}]
    Row = Path + 22  # the ResultRow itself, a Python object Qt hands back untouched: see row_at


@dataclass(frozen=True)
class Snapshot:
    """What the model shows, to put back later (after "more like this", say)."""

    rows: tuple[ResultRow, ...]
    expanded: frozenset[int]
    query: str
    mode: str
    confident: bool


def row_at(index: AnyIndex) -> ResultRow | None:
    """The row at `index` (of a ResultsModel, or a proxy over one), its paths exactly as the
    engine sent them; None for no row."""
    row = index.data(ResultRole.Row) if index.isValid() else None
    return row if isinstance(row, ResultRow) else None


def path_at(index: AnyIndex) -> str | None:
    """The path of the file at `index`, exactly as the engine sent it (see row_at)."""
    row = row_at(index)
    return row.best.path if row is not None else None


def _role_name(role: ResultRole) -> bytes:
    return (role.name[0].lower() + role.name[1:]).encode()


class ResultsModel(QAbstractListModel):
    """One row per file: its best passage, with the file's other passages under `More`."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ResultRow] = []
        self._expanded: set[int] = set()
        self._best_score = 0.0
        self._query = ""
        self._mode = ""
        self._confident = False

    @property
    def query(self) -> str:
        return self._query

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def confident(self) -> bool:
        return self._confident

    def set_response(self, response: dict[str, Any]) -> None:
        if not isinstance(response, dict):
            log.warning("search answer: expected an object, got %s", type(response).__name__)
            response = {}
        query = response.get("query")
        raw = response.get("results")
        self.beginResetModel()
        self._expanded.clear()
        self._query = query if isinstance(query, str) else ""
        self._mode = str(response.get("mode") or "")
        self._confident = bool(response.get("confident"))
        self._rows = [row for item in (raw if isinstance(raw, list) else [])
                      if (row := parse_row(item, len(self._query), self._confident))
                      is not None]
        self._best_score = max((row.best.score for row in self._rows), default=0.0)
        self.endResetModel()

    @property
    def weaker_from(self) -> int:
        """The row where confident matches end and weaker ones begin; -1 if there is no such
        line (all confident, or none)."""
        for i, row in enumerate(self._rows):
            if not row.confident:
                return i if i > 0 and self._rows[i - 1].confident else -1
        return -1

    def snapshot(self) -> Snapshot:
        return Snapshot(tuple(self._rows), frozenset(self._expanded), self._query, self._mode,
                        self._confident)

    def restore(self, snapshot: Snapshot) -> None:
        self.beginResetModel()
        self._rows = list(snapshot.rows)
        self._expanded = set(snapshot.expanded)
        self._query, self._mode, self._confident = (snapshot.query, snapshot.mode,
                                                    snapshot.confident)
        self._best_score = max((row.best.score for row in self._rows), default=0.0)
        self.endResetModel()

    def merge_explanations(self, response: dict[str, Any]) -> int:
        """Take the explanations of a second answer to the same query, row by row in place.

        The window shows results first and asks for explanations after, so highlights arrive
        without moving the selection or the scroll position. Rows are matched by path and
        passage offsets; returns how many rows gained an explanation.
        """
        if not isinstance(response, dict) or response.get("query") != self._query:
            return 0
        raw = response.get("results")
        parsed = [row for item in (raw if isinstance(raw, list) else [])
                  if (row := parse_row(item, len(self._query), False)) is not None]
        by_key = {(r.best.path, r.best.start, r.best.end): r for r in parsed}
        merged = 0
        for i, row in enumerate(self._rows):
            new = by_key.get((row.best.path, row.best.start, row.best.end))
            if new is None or not new.best.explained:
                continue
            self._rows[i] = replace(row, best=new.best, more=new.more or row.more)
            index = self.index(i, 0)
            self.dataChanged.emit(index, index)
            merged += 1
        return merged

    def set_expanded(self, row: int, expanded: bool) -> bool:
        """Fold a row's other passages out (or back); False if it has none or nothing changed."""
        if not 0 <= row < len(self._rows) or not self._rows[row].more:
            return False
        if (row in self._expanded) == expanded:
            return False
        (self._expanded.add if expanded else self._expanded.discard)(row)
        index = self.index(row, 0)
        self.dataChanged.emit(index, index, [ResultRole.Expanded])
        return True

    def clear(self) -> None:
        self._expanded.clear()
        self.beginResetModel()
        self._rows = []
        self._best_score = 0.0
        self._query, self._mode, self._confident = "", "", False
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self._rows)

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names.update({int(role): QByteArray(_role_name(role)) for role in ResultRole})
        return names

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        p = row.best
        if role == Qt.ItemDataRole.DisplayRole:
            return p.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return display_path(p.path)
        try:
            role = ResultRole(role)
        except ValueError:
            return None
        match role:
            case ResultRole.Path:
                return p.path
            case ResultRole.Name:
                return p.name
            case ResultRole.Folder:
                return p.folder
            case ResultRole.Page:
                return p.page
            case ResultRole.Start:
                return p.start
            case ResultRole.End:
                return p.end
            case ResultRole.Text:
                return p.text
            case ResultRole.Score:
                return p.score
            case ResultRole.ScoreFraction:
                if self._best_score <= 0:
                    return 0.0
                return min(1.0, max(0.0, p.score / self._best_score))
            case ResultRole.Modified:
                return modified_time(p.mtime)
            case ResultRole.PassageSpans:
                return list(p.passage_spans)
            case ResultRole.KeywordSpans:
                return list(p.keyword_spans)
            case ResultRole.Pairs:
                return list(p.pairs)
            case ResultRole.QuerySpans:
                return list(p.query_spans)
            case ResultRole.Reason:
                return p.reason
            case ResultRole.More:
                return list(row.more)
            case ResultRole.Expanded:
                return index.row() in self._expanded
            case ResultRole.Heading:
                return p.heading
            case ResultRole.Explained:
                return p.explained
            case ResultRole.Confident:
                return row.confident
            case ResultRole.WeakerStart:
                return index.row() == self.weaker_from
            case ResultRole.AlsoIn:
                return list(row.also_in)
            case ResultRole.Row:
                return row
        return None

