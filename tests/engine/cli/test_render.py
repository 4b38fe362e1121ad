"""`dowse search` for people: copies under their result, and where confident matches end."""

from __future__ import annotations

import io
from typing import Any

from engine.cli.render import print_response


def hit(path: str, confident: bool, also_in: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "path": path, "page": None, "start": 0, "end": 40, "heading": None,
        "text": f"Text of {path}", "score": 1.0, "mtime": 0.0, "more": [],
        "score_parts": {"semantic": 0.5, "keyword": None, "keyword_rank": None,
                        "semantic_rank": 1},
        "confident": confident, "also_in": also_in or [],
    }


def test_copies_and_the_weaker_matches_line() -> None:
    copies = [{"path": "/d/report.pdf", "page": 3, "start": 0, "end": 9},
              {"path": "/d/old/report.docx", "page": None, "start": 5, "end": 20}]
    answer = {"query": "bees", "mode": "hybrid", "confident": True, "elapsed_ms": 1.0,
              "results": [hit("/d/report.docx", True, copies), hit("/d/notes.md", True),
                          hit("/d/garden.txt", False), hit("/d/trip.txt", False)]}
    out = io.StringIO()
    print_response(answer, out)
    lines = out.getvalue().splitlines()
    assert "    also in 2 other files: /d/report.pdf p.3, /d/old/report.docx" in lines
    divider = lines.index("    — weaker matches —")
    assert lines[divider - 2].startswith(" 2. /d/notes.md")
    assert lines[divider + 1].startswith(" 3. /d/garden.txt")
    assert lines.count("    — weaker matches —") == 1


def test_no_line_when_nothing_is_confident_or_everything_is() -> None:
    for flags in ((False, False), (True, True)):
        answer = {"query": "q", "mode": "hybrid", "confident": any(flags), "elapsed_ms": 1.0,
                  "results": [hit(f"/d/{i}.txt", f) for i, f in enumerate(flags)]}
        out = io.StringIO()
        print_response(answer, out)
        assert "weaker matches" not in out.getvalue()


def test_more_like_this_names_its_source() -> None:
    answer = {"query": "Feed the starter twice a day.", "mode": "semantic", "confident": True,
              "elapsed_ms": 1.0, "results": [hit("/d/rye.md", True)],
              "source": {"path": "/d/starter.md", "page": None, "start": 0, "end": 29}}
    out = io.StringIO()
    print_response(answer, out)
    assert out.getvalue().startswith("Like /d/starter.md  [0:29]: Feed the starter twice a day.")
