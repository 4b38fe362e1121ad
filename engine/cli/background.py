"""`dowse search` with no engine running: start one in the background, so the next is quick.

A search in-process loads the model and the vectors for one query and throws them away (9.6 s
on the python3-doc folder). The engine started here (`dowse serve --background`, detached,
on the same data dir) keeps them; it exits by itself after [serve]
background_idle_exit_seconds with nothing to do, and its embedding child after [embed]
idle_exit_seconds.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from engine.config import ConfigError, load_config
from engine.serve.client import EngineClient, EngineUnavailableError, spawn_engine
from engine.serve.runtime import engine_running

log = logging.getLogger(__name__)

START_ENV = "DOWSE_SEARCH_STARTS_ENGINE"  # "0" keeps `dowse search` in-process
SEMANTIC_WAIT_SECONDS = 60.0  # a fresh engine's vectors and model, before keyword-only
POLL_SECONDS = 0.05


def search_starts_engine(data_dir: Path) -> bool:
    if os.environ.get(START_ENV, "").strip() in ("0", "false", "no"):
        return False
    try:
        return load_config(data_dir).serve.search_starts_engine
    except (ConfigError, OSError):
        return False  # the in-process search says what is wrong with the config


def start_background_engine(data_dir: Path) -> bool:
    """Start an engine that exits when idle; False (and the search runs in-process) if it
    cannot start. Another command starting one at the same moment counts as started."""
    try:
        spawn_engine(data_dir, background=True)
        return True
    except (EngineUnavailableError, OSError) as exc:
        if engine_running(data_dir):
            return True
        print(f"dowse: could not start the engine ({exc}); searching in-process",
              file=sys.stderr)
        return False


def wait_for_semantic(engine: EngineClient, timeout: float = SEMANTIC_WAIT_SECONDS) -> bool:
    """Poll status until the semantic side answers; False if it fails or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = engine.status()
        if status.get("semantic_ready"):
            return True
        if status["engine"].get("activity") in ("failed", "database damaged"):
            return False
        time.sleep(POLL_SECONDS)
    return False
