"""The heavy variants of the hostile suite (`-m slow`): 30 MB of prose on one line, read,
chunked and stored by a real `dowse index` within the per-file time limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.config import ExtractConfig
from tests.hostile.kinds import line_less_prose

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.slow]


def test_30_mb_of_prose_on_one_line_is_indexed(tmp_path: Path) -> None:
    root, data = tmp_path / "pinned", tmp_path / "data"
    root.mkdir()
    line_less_prose(root / "export.csv.txt", "xqklongline", 30 * 1024 * 1024)
    env = {**os.environ, "DOWSE_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    started = time.monotonic()
    # Keyword-only: 30 MB of prose is some 50,000 passages, minutes of embedding on a CPU.
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "index", "--keyword-only", str(root)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Indexed 1 files" in result.stdout, result.stdout
    assert seconds < 2 * ExtractConfig().timeout_seconds, f"{seconds:.1f} s"
    found = subprocess.run(
        [sys.executable, "-m", "engine.cli", "search", "xqklongline", "--mode", "keyword",
         "--json"], env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert [hit["path"] for hit in json.loads(found.stdout)["results"]] == [
        str(root / "export.csv.txt")
    ]
