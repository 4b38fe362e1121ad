"""The CLI shows a file name that is not UTF-8 with U+FFFD, and never lets a name or a reason
write control characters to the terminal; its JSON stays valid UTF-8."""

from __future__ import annotations

import io
import json
import os
from typing import Any

from engine.cli.render import write_status

ODD = os.fsdecode(b"/docs/caf\xe9\x1b[2J.txt")


def status() -> dict[str, Any]:
    return {
        "data_dir": "/data", "engine": {"state": "not running"}, "model": "", "folders": 1,
        "files": 1, "indexed": 0, "skipped": 0, "failed": 1, "passages": 0, "queue": 0,
        "folder_list": [{"path": "/docs", "indexed": 0, "failed": 1, "skipped": 0,
                         "queued": 0, "watch": "none"}],
        "error_list": [{"path": ODD, "state": "failed", "reason": "corrupt PDF:\x1b[31m red"}],
    }


def test_status_text_replaces_bad_bytes_and_control_characters() -> None:
    out = io.StringIO()
    write_status(status(), False, out)
    text = out.getvalue()
    assert "/docs/caf\ufffd\ufffd[2J.txt: corrupt PDF:\ufffd[31m red" in text
    assert "\x1b" not in text
    text.encode("utf-8")  # what a terminal gets is valid UTF-8


def test_status_json_is_valid_utf8_with_replacement_characters() -> None:
    out = io.StringIO()
    write_status(status(), True, out)
    line = out.getvalue()
    line.encode("utf-8")
    [row] = json.loads(line)["error_list"]
    assert row["path"] == "/docs/caf\ufffd\x1b[2J.txt"  # JSON escapes the control itself
