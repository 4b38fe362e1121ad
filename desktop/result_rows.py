"""The rows of a search answer, and the one place that knows the engine's JSON for them: it
turns each result of `search --json --explain` into a `ResultRow`, every span made local to its
passage, and a malformed result into a logged skip."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import PurePath
from typing import Any

from PySide6.QtCore import QDateTime

from engine.serve.display import display_path

log = logging.getLogger(__name__)

Span = tuple[int, int, float]  # (start, end, weight), offsets within the passage text
Pair = tuple[int, int, int, int, float]  # (q_start, q_end, p_start, p_end, weight)


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
    confident: bool = False
    also_in: tuple[dict[str, Any], ...] = ()  # copies collapsed into this row, as `AlsoIn`


def modified_time(mtime: float | None) -> QDateTime | None:
    if mtime is None:
        return None
    return QDateTime.fromMSecsSinceEpoch(int(mtime * 1000))


def _passage_dict(p: Passage) -> dict[str, Any]:
    """A `More` entry: the passage's fields by name, `modified` as for the Modified role."""
    item = asdict(p)
    item["modified"] = modified_time(p.mtime)
    return item


def parse_row(item: Any, query_len: int, confident: bool) -> ResultRow | None:
    """A row; `confident` stands in for the result's own flag where an engine sends none."""
    best = _parse_passage(item, query_len)
    if best is None:
        return None
    raw_more = item.get("more")
    more = tuple(_passage_dict(m) for raw in (raw_more if isinstance(raw_more, list) else [])
                 if (m := _parse_passage(raw, query_len)) is not None)
    own = item.get("confident")
    return ResultRow(best, more, own if isinstance(own, bool) else confident,
                     _parse_also_in(item.get("also_in"), best.path))


def _parse_also_in(raw: Any, path: str) -> tuple[dict[str, Any], ...]:
    copies: dict[str, dict[str, Any]] = {}
    for entry in raw if isinstance(raw, list) else []:
        other = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(other, str) or other == path or other in copies:
            continue
        pure, page = PurePath(other), entry.get("page")
        copies[other] = {"path": other, "name": display_path(pure.name or other),
                         "folder": display_path(str(pure.parent)) if pure.name else "",
                         "page": page if isinstance(page, int) and not isinstance(page, bool)
                         else None}
    return tuple(copies.values())


def _parse_passage(item: Any, query_len: int) -> Passage | None:
    # A malformed hit is an engine bug: log it and keep the rest of the answer on screen.
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        # Not the item itself, which holds passage text: logs keep no content (engine/logs.py).
        log.warning("search answer: skipped a result without a path (%s)", type(item).__name__)
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
        # Shown as text: a name that is not UTF-8 (or holds a newline) shows U+FFFD.
        name=display_path(pure.name or path),
        folder=display_path(str(pure.parent)) if pure.name else "",
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
