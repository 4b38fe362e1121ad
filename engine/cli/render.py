"""Turns engine answers into terminal text: the progress bar, result lists and summaries."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, TextIO

from engine.serve.display import display_path

if TYPE_CHECKING:  # a search through the engine prints its dict without loading the index
    from engine.ingest.indexer import IndexProgress, IndexSummary
    from engine.search.searcher import SearchResponse

# Files that failed or were skipped, listed under `dowse status` (all of them with --json).
PROBLEMS_SHOWN = 20


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressBar:
    """A one-line progress bar on a terminal, redrawn at most ten times a second."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self._last = 0.0

    def __call__(self, p: IndexProgress) -> None:
        now = time.monotonic()
        if p.done < p.total and now - self._last < 0.1:
            return
        self._last = now
        width = shutil.get_terminal_size((80, 20)).columns
        fraction = p.done / p.total if p.total else 1.0
        bar_width = 24
        filled = int(bar_width * fraction)
        mb = p.bytes_done / 1e6
        line = (
            f"[{'#' * filled}{'.' * (bar_width - filled)}] {p.done}/{p.total} files"
            f"  {p.rate:.1f} files/s  {mb / p.elapsed if p.elapsed else 0:.2f} MB/s"
            f"  ETA {format_duration(p.eta)}"
        )
        if p.failed:
            line += f"  {p.failed} failed"
        if p.meaning_fraction is not None:
            line += f"  · by meaning: {p.meaning_fraction:.0%}"
            if p.done >= p.total and p.meaning_eta is not None:
                line += f" (ETA {format_duration(p.meaning_eta)})"
        self.stream.write("\r" + line[: width - 1].ljust(width - 1))
        if p.done >= p.total and (p.meaning_fraction is None or p.embedded >= p.passages):
            self.stream.write("\n")
        self.stream.flush()


def print_summary(summary: IndexSummary, out: TextIO) -> None:
    mb = summary.bytes / 1e6
    secs = max(summary.seconds, 1e-9)
    out.write(
        f"Indexed {summary.indexed} files ({summary.passages} passages), "
        f"{summary.unchanged} unchanged, {len(summary.skipped)} skipped, "
        f"{len(summary.failed)} failed, {summary.removed} removed "
        f"in {summary.seconds:.1f}s ({(summary.indexed + summary.unchanged) / secs:.1f} files/s, "
        f"{mb / secs:.2f} MB/s).\n"
    )
    if summary.indexed:
        line = f"Findable by words after {summary.words_seconds:.1f}s"
        if summary.ocr_seconds is not None:  # the text first; what only OCR reads after it
            pages = f"{summary.ocr_pages:,} page{'s' if summary.ocr_pages != 1 else ''}"
            line += f" ({summary.ocr_seconds:.1f}s with the {pages} read by OCR)"
        if summary.meaning_seconds is not None:
            line += (f", by meaning after {summary.meaning_seconds:.1f}s ({summary.embedded}"
                     f" passages embedded, {summary.reused} reused)")
        out.write(line + ".\n")
    if summary.skipped:
        out.write("Skipped:\n")
        for reason, count in Counter(_reason_kind(r) for _, r in summary.skipped).most_common():
            out.write(f"  {count:6d}  {reason}\n")
    if summary.failed:
        out.write("Failed:\n")
        for path, reason in summary.failed[:50]:
            out.write(f"  {display_path(path)}: {display_path(reason)}\n")
        if len(summary.failed) > 50:
            out.write(f"  … and {len(summary.failed) - 50} more (see `dowse status`)\n")


def printable(value: Any) -> Any:
    """`value` with each byte of a name that is not UTF-8 shown as U+FFFD, so the JSON Dowse
    prints is valid UTF-8 that any parser reads (JSON escapes control characters itself)."""
    if isinstance(value, str):
        return display_path(value, keep_controls=True)
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable(v) for v in value]
    return value


def _reason_kind(reason: str) -> str:
    # "file too large: 61.2 MB > 50 MB" and the like group under their leading words.
    return reason.split(":")[0]


def _as_dict(response: SearchResponse) -> dict[str, Any]:
    from engine.search.response_json import response_dict

    return response_dict(response)


def response_json(response: SearchResponse | dict[str, Any]) -> str:
    data = response if isinstance(response, dict) else _as_dict(response)
    return json.dumps(printable(data), ensure_ascii=False)


def snippet(text: str, width: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def print_response(response: SearchResponse | dict[str, Any], out: TextIO) -> None:
    data = response if isinstance(response, dict) else _as_dict(response)
    if not data["results"]:
        out.write(f"No results for {data['query']!r} ({data['mode']}).\n")
        return
    source = data.get("source")
    if source is not None:
        page = f"  p.{source['page']}" if source["page"] else ""
        out.write(f"Like {display_path(source['path'])}{page}  [{source['start']}:"
                  f"{source['end']}]: {snippet(data['query'], 120)}\n")
    if not data["confident"]:
        out.write("No confident match; the closest results are:\n")
    before = False  # whether the result before was a confident one
    for i, hit in enumerate(data["results"], 1):
        confident = hit.get("confident", True)
        if before and not confident:
            out.write("    — weaker matches —\n")
        before = confident
        _print_hit(i, hit, data["query"], out)


def _print_hit(i: int, hit: dict[str, Any], query: str, out: TextIO) -> None:
    where = display_path(hit["path"]) + (f"  p.{hit['page']}" if hit["page"] else "")
    parts = []
    semantic, keyword = hit["score_parts"]["semantic"], hit["score_parts"]["keyword"]
    if semantic is not None:
        parts.append(f"semantic {semantic:.3f}")
    if keyword is not None:
        parts.append(f"keyword {keyword:.2f}")
    out.write(f"{i:2d}. {where}  [{hit['start']}:{hit['end']}]  score {hit['score']:.3f}")
    out.write(f" ({', '.join(parts)})\n" if parts else "\n")
    out.write(f"    {snippet(hit['text'])}\n")
    if hit.get("explanation") is not None:
        _print_explanation(hit, query, out)
    if hit["more"]:
        out.write(f"    + {len(hit['more'])} more passage(s) in this file\n")
    copies = hit.get("also_in") or []
    if copies:
        places = ", ".join(
            display_path(c["path"]) + (f" p.{c['page']}" if c["page"] else "") for c in copies
        )
        other = "other file" if len(copies) == 1 else "other files"
        out.write(f"    also in {len(copies)} {other}: {places}\n")


def _print_explanation(hit: dict[str, Any], query: str, out: TextIO) -> None:
    exp = hit["explanation"]
    text, start = hit["text"], hit["start"]
    out.write(f"    why: {exp['reason']}")
    if exp["semantic_share"] is not None and exp["keyword_share"] is not None:
        out.write(f" (meaning {exp['semantic_share']:.0%}, words {exp['keyword_share']:.0%})")
    out.write("\n")
    words = sorted(exp["passage_spans"], key=lambda span: -span[2])[:6]
    if words:
        shown = ", ".join(f"{text[s - start : e - start]} ({w:+.3f})" for s, e, w in words)
        out.write(f"    passage words: {shown}\n")
    for q0, q1, p0, p1, w in exp["pairs"][:3]:
        out.write(f"    {query[q0:q1]!r} ↔ {text[p0 - start : p1 - start]!r} ({w:+.3f})\n")


def write_status(status: dict[str, Any], as_json: bool, out: TextIO) -> None:
    """`dowse status`: one JSON object, or lines for people."""
    if as_json:
        out.write(json.dumps(printable(status)) + "\n")
    else:
        print_status(status, out)


def write_response(response: SearchResponse | dict[str, Any], as_json: bool, out: TextIO) -> None:
    """`dowse search`: one JSON object, or a ranked list for people."""
    if as_json:
        out.write(response_json(response) + "\n")
    else:
        print_response(response, out)


def print_status(status: dict[str, Any], out: TextIO) -> None:
    engine = status["engine"]
    if engine.get("state") == "running":
        line = f"running (pid {engine['pid']}, {engine['activity']})"
    else:
        line = "not running (this shows the index on disk)"
    out.write(f"Data dir:  {status['data_dir']}\nEngine:    {line}\n")
    if status.get("problem"):  # a full disk, a damaged database: why indexing stopped
        out.write(f"Problem:   {status['problem']['message']}\n")
    if status.get("model"):
        device = f" on {status['note']}" if status.get("note") else ""
        out.write(f"Model:     {status['model']}{device}\n")
    out.write(
        f"Folders:   {status['folders']}\nFiles:     {status['files']} "
        f"({status['indexed']} indexed, {status['skipped']} skipped, {status['failed']} failed)\n"
        f"Passages:  {status['passages']}\n"
    )
    if status["queue"]:
        eta = format_duration(status["eta_seconds"]) if status.get("eta_seconds") else "?"
        out.write(f"Queue:     {status['queue']} files, {status['rate']:.1f} files/s, ETA {eta}\n")
    meaning = status.get("meaning") or {}
    if meaning.get("line"):  # "findable by words: 1,062 of 1,062 files · by meaning: 41%"
        left = meaning.get("meaning_eta_seconds")
        rate = meaning["meaning_rate"]
        pace = f", {rate:.0f} passages/s, ETA {format_duration(left)}" if left else ""
        out.write(f"Phases:    {meaning['line']}{pace}\n")
    ocr = status.get("ocr") or {}
    if ocr.get("line"):  # "reading scanned pages: 40 of 300"
        eta = format_duration(ocr["eta_seconds"]) if ocr.get("eta_seconds") else "?"
        out.write(f"OCR:       {ocr['line']}, {ocr['rate']:.1f} pages/s, ETA {eta}\n")
    elif ocr.get("state") == "off" and ocr.get("note"):
        out.write(f"OCR:       off: {ocr['note']}\n")
    for folder in status["folder_list"]:
        watch = f", watched {folder['watch']}" if folder["watch"] != "none" else ""
        queued = f", {folder['queued']} queued" if folder["queued"] else ""
        out.write(
            f"  {display_path(folder['path'])}  {folder['indexed']} indexed, "
            f"{folder['failed']} failed, {folder['skipped']} skipped{queued}{watch}\n"
        )
    problems = status.get("error_list") or []
    if problems:
        out.write("Not indexed:\n")
        for row in problems[:PROBLEMS_SHOWN]:
            shown = f"{display_path(row['path'])}: {display_path(row['reason'])}"
            out.write(f"  {row['state']:7s}  {shown}\n")
        if len(problems) > PROBLEMS_SHOWN:
            out.write(f"  … and {len(problems) - PROBLEMS_SHOWN} more (`dowse status --json`)\n")
