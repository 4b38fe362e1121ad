"""Starts a real `dowse serve` on a temporary data dir and waits on it by polling, never blindly."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from engine.serve.client import EngineClient
from engine.serve.runtime import INFO_FILE, engine_running

T = TypeVar("T")


def engine_env(data_dir: Path, runtime_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DOWSE_DATA_DIR": str(data_dir),
        "DOWSE_RUNTIME_DIR": str(runtime_dir),
        "HF_HUB_OFFLINE": "1",
    }


def short_runtime_dir() -> Path:
    """A socket folder with a short path: pytest's tmp paths can overflow sun_path."""
    return Path(tempfile.mkdtemp(prefix="dw-"))


def start_engine(
    data_dir: Path, runtime_dir: Path, config: str | None = None, log_path: Path | None = None
) -> subprocess.Popen[bytes]:
    """`dowse serve -v`, its output in `log_path` (default: engine.log in the data dir)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if config is not None:
        (data_dir / "config.toml").write_text(config)
    log = open(log_path or data_dir / "engine.log", "ab")  # noqa: SIM115  # the child keeps it
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "-v"],
        env=engine_env(data_dir, runtime_dir), stdout=log, stderr=log,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    return process


def connect(data_dir: Path, runtime_dir: Path, timeout: float = 60.0) -> EngineClient:
    """Connect once the engine listens (it takes the lock a moment before)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return EngineClient.connect(data_dir, timeout=10.0, client="tests")
        except ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def wait_for(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def wait_idle(client: EngineClient, timeout: float = 120.0) -> dict[str, Any]:
    """Poll status until the model is loaded, nothing is queued and the worker is idle."""

    def idle() -> dict[str, Any] | None:
        status = client.status()
        quiet = status["engine"]["activity"] == "idle" and status["queue"] == 0
        return status if quiet else None

    return wait_for(idle, timeout, "the engine to become idle")


def paths_found(client: EngineClient, query: str, k: int = 20) -> set[str]:
    response = client.search(query, mode="keyword", k=k)
    return {hit["path"] for hit in response["results"]}


def stop_engine(process: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@contextmanager
def running_engine(
    data_dir: Path, config: str | None = None, log_path: Path | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], EngineClient, Path]]:
    runtime = short_runtime_dir()
    process = start_engine(data_dir, runtime, config, log_path)
    client = None
    try:
        client = connect(data_dir, runtime)
        yield process, client, runtime
    finally:
        if client is not None:
            client.close()
        stop_engine(process)


def _children(pid: int) -> list[int]:
    """The processes `pid` started (its embedding and extraction children), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            continue
    return found


def stop_leftover_engine(data_dir: Path) -> None:
    """After a failed test, do not leave a detached engine behind, nor its children (the
    embedding child, which an engine started by `dowse search` has too)."""
    if not engine_running(data_dir):
        return
    try:
        pid = json.loads((data_dir / INFO_FILE).read_text())["pid"]
        children = _children(pid)
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        return
    deadline = time.monotonic() + 30
    while engine_running(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    for child in children:  # they leave with the engine; one that lingers is killed
        while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if Path(f"/proc/{child}").exists():
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGKILL)
