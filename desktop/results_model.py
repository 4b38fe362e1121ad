"""The one place in the desktop app that knows the shape of a search answer: it turns the
engine's `search --json --explain` dict into list rows that views and delegates can read."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from enum import IntEnum
from pathlib import PurePath
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QDateTime,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

log = logging.getLogger(__name__)

Span = tuple[int, int, float]  # (start, end, weight), offsets within the passage text
Pair = tuple[int, int, int, int, float]  # (q_start, q_end, p_start, p_end, weight)
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


@dataclass(frozen=True)
class Passage:
    """One passage of a result, every span already local to `text` (0 = its first character)."""

    path: str
    name: str
    folder: str
    page: int | None
    start: int
    end: int
    heading: str | None
    text: str
    score: float
    mtime: float | None
    passage_spans: tuple[Span, ...]  # positive weights only
    keyword_spans: tuple[tuple[int, int], ...]
    pairs: tuple[Pair, ...]  # strongest first, as the engine sent them
    query_spans: tuple[Span, ...]  # over the query string, every weight
    reason: str
    explained: bool


@dataclass(frozen=True)
class ResultRow:
    best: Passage
    more: tuple[dict[str, Any], ...]  # built once: views read `More` on every paint


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
            log.warning("search answer: expected an object, got %.200r", response)
            response = {}
        query = response.get("query")
        raw = response.get("results")
        self.beginResetModel()
        self._expanded.clear()
        self._query = query if isinstance(query, str) else ""
        self._mode = str(response.get("mode") or "")
        self._confident = bool(response.get("confident"))
        self._rows = [row for item in (raw if isinstance(raw, list) else [])
                      if (row := _parse_row(item, len(self._query))) is not None]
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
                  if (row := _parse_row(item, len(self._query))) is not None]
        by_key = {(r.best.path, r.best.start, r.best.end): r for r in parsed}
        merged = 0
        for i, row in enumerate(self._rows):
            new = by_key.get((row.best.path, row.best.start, row.best.end))
            if new is None or not new.best.explained:
                continue
            self._rows[i] = ResultRow(new.best, new.more if new.more else row.more)
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
            return p.path
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
                return _modified(p.mtime)
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
        return None


def _modified(mtime: float | None) -> QDateTime | None:
    if mtime is None:
        return None
    return QDateTime.fromMSecsSinceEpoch(int(mtime * 1000))


def _passage_dict(p: Passage) -> dict[str, Any]:
    """A `More` entry: the passage's fields by name, `modified` as for the Modified role."""
    item = asdict(p)
    item["modified"] = _modified(p.mtime)
    return item


def _parse_row(item: Any, query_len: int) -> ResultRow | None:
    best = _parse_passage(item, query_len)
    if best is None:
        return None
    raw_more = item.get("more")
    more = tuple(_passage_dict(m) for raw in (raw_more if isinstance(raw_more, list) else [])
                 if (m := _parse_passage(raw, query_len)) is not None)
    return ResultRow(best, more)


def _parse_passage(item: Any, query_len: int) -> Passage | None:
    # A malformed hit is an engine bug: log it and keep the rest of the answer on screen.
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        log.warning("search answer: skipped a result without a path: %.200r", item)
        return None
    path = item["path"]
    text = item.get("text") if isinstance(item.get("text"), str) else ""
    start = _int(item.get("start"), 0)
    end = _int(item.get("end"), start + len(text))
    pure = PurePath(path)
    exp = item.get("explanation") if isinstance(item.get("explanation"), dict) else None
    heading = item.get("heading")
    page = item.get("page")
    mtime = item.get("mtime")
    return Passage(
        path=path,
        name=pure.name or path,
        folder=str(pure.parent) if pure.name else "",
        page=page if isinstance(page, int) and not isinstance(page, bool) else None,
        start=start,
        end=end,
        heading=heading if isinstance(heading, str) and heading else None,
        text=text,
        score=_float(item.get("score"), 0.0),
        mtime=float(mtime) if isinstance(mtime, int | float) else None,
        passage_spans=_local_spans(exp, "passage_spans", start, len(text), positive=True),
        keyword_spans=tuple((s, e) for s, e, _ in _local_spans(
            exp, "keyword_spans", start, len(text), positive=False)),
        pairs=_local_pairs(exp, start, len(text), query_len),
        query_spans=_local_spans(exp, "query_spans", 0, query_len, positive=False),
        reason=str(exp.get("reason") or "") if exp else "",
        explained=exp is not None,
    )


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _float(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return default


def _clip(s: Any, e: Any, offset: int, length: int) -> tuple[int, int] | None:
    """(s, e) moved by -offset and clipped to [0, length]; None if malformed or empty."""
    if not (isinstance(s, int) and isinstance(e, int)):
        return None
    s, e = max(0, s - offset), min(length, e - offset)
    return (s, e) if s < e else None


def _local_spans(exp: dict[str, Any] | None, key: str, offset: int, length: int,
                 positive: bool) -> tuple[Span, ...]:
    raw = exp.get(key) if exp else None
    spans: list[Span] = []
    for span in raw if isinstance(raw, list) else []:
        if not isinstance(span, list | tuple) or len(span) < 2:
            continue
        weight = _float(span[2], float("nan")) if len(span) > 2 else 1.0
        if weight != weight or (positive and weight <= 0):  # NaN: malformed
            continue
        if (clipped := _clip(span[0], span[1], offset, length)) is not None:
            spans.append((*clipped, weight))
    return tuple(spans)


def _local_pairs(exp: dict[str, Any] | None, offset: int, length: int,
                 query_len: int) -> tuple[Pair, ...]:
    raw = exp.get("pairs") if exp else None
    pairs: list[Pair] = []
    for pair in raw if isinstance(raw, list) else []:
        if not isinstance(pair, list | tuple) or len(pair) != 5:
            continue
        weight = _float(pair[4], float("nan"))
        q = _clip(pair[0], pair[1], 0, query_len)
        p = _clip(pair[2], pair[3], offset, length)
        if q is not None and p is not None and weight == weight:
            pairs.append((*q, *p, weight))
    return tuple(pairs)
