"""The engine's encoder, as a proxy to the embedding child, so torch leaves memory when idle.

It offers the Encoder interface (and `explain`, which runs where the model is). The child
(engine/serve/embed_child.py) is spawned on first use and again on demand; after
`[embed] idle_exit_seconds` with no request it is told to go, and its memory with it. The
engine keeps the vectors and SQLite; the child keeps only the model.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import EmbedConfig
from engine.embed.base import Vectors
from engine.embed.model_dir import ModelNotFoundError, read_model_info, resolve_model_dir
from engine.search.explanation import Explanation
from engine.serve.embed_child import serve

log = logging.getLogger(__name__)

START_TIMEOUT = 300.0  # a first start checks precision and the lean path: tens of seconds
STOP_TIMEOUT = 5.0


class EmbedChildError(RuntimeError):
    """The embedding child could not start, died twice on one request, or refused it."""


@dataclass
class _Child:
    process: BaseProcess
    conns: dict[str, Connection]
    started: float
    ready: bool = False


@dataclass
class _Channel:
    name: str  # "query" (searches, explanations) or "bulk" (passages being indexed)
    lock: threading.Lock = field(default_factory=threading.Lock)


class RemoteEncoder:
    """An Encoder whose model lives in a child process that exits when idle."""

    def __init__(
        self, config: EmbedConfig, cache_dir: Path | None, idle_exit_seconds: float | None = None
    ) -> None:
        self.config = config
        self.cache_dir = cache_dir
        path = resolve_model_dir(config.model_path)
        info = read_model_info(path)
        self.name = info.name
        self.max_tokens = info.max_tokens
        self.dim = _hidden_size(path)
        self.pooling = config.pooling if config.pooling != "auto" else (info.pooling or "mean")
        self.device = "cpu"
        self.precision = "fp32"
        self.passages_encoded = 0
        # What status reports; updated in place from every reply (the worker holds this dict).
        self.record = {"model": self.name, "device": "", "precision": "", "note": ""}
        self.idle_exit = config.idle_exit_seconds if idle_exit_seconds is None else (
            idle_exit_seconds)
        self.starts = 0  # children started so far
        self.last_start_seconds = 0.0  # from spawn to "ready", for the last one
        self._channels = {"query": _Channel("query"), "bulk": _Channel("bulk")}
        self._life = threading.Lock()
        self._child: _Child | None = None
        self._last_used = time.monotonic()
        self._closed = threading.Event()
        self._reaper = threading.Thread(target=self._reap_idle, name="dowse-embed-idle",
                                        daemon=True)
        self._reaper.start()

    # -- the Encoder interface --------------------------------------------------------------

    def describe(self) -> str:
        return self.record["note"] or "in a child process"

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return _vectors(self._call("query", ("queries", list(texts))), self.dim)

    def encode_passages(self, texts: Sequence[str]) -> Vectors:
        vectors = _vectors(self._call("bulk", ("passages", list(texts))), self.dim)
        self.passages_encoded += len(texts)
        return vectors

    def explain(self, query: str, passages: Sequence[tuple[str, int]]) -> list[Explanation]:
        """Explanations computed in the child, beside the model (engine.search.explain)."""
        explained: list[Explanation] = self._call("query", ("explain", query, list(passages)))
        return explained

    # -- the child's life -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        child = self._child
        return child is not None and child.process.is_alive()

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.process.pid if child is not None and child.process.is_alive() else None

    def begin(self) -> None:
        """Spawn the child without waiting for it: it loads while the caller does other work."""
        with self._life:
            if self._child is None or not self._child.process.is_alive():
                self._child = self._spawn()

    def wait_ready(self) -> None:
        """Block until a child is ready (starting one if none runs); EmbedChildError if it
        cannot start, ModelNotFoundError for a missing model."""
        with self._life:
            self._ready_child()

    def close(self) -> None:
        self._closed.set()
        with self._life:
            if self._child is not None:
                self._stop(self._child)
                self._child = None

    def _spawn(self) -> _Child:
        # Never fork: the engine's threads hold locks (SQLite, hnswlib) a forked child inherits.
        context = multiprocessing.get_context("spawn")
        query_parent, query_child = context.Pipe()
        bulk_parent, bulk_child = context.Pipe()
        process = context.Process(
            target=serve,
            args=(query_child, bulk_child, self.config, self.cache_dir,
                  logging.getLogger("engine").getEffectiveLevel()),
            name="dowse-embed", daemon=True,
        )
        started = time.monotonic()
        process.start()
        query_child.close()  # so the child's death reads as EOF here
        bulk_child.close()
        self.starts += 1
        log.info("started the embedding process %s", process.pid)
        return _Child(process, {"query": query_parent, "bulk": bulk_parent}, started)

    def _ready_child(self) -> _Child:
        """The running child, ready; spawned and waited for if needed. Holds self._life."""
        child = self._child
        if child is None or not child.process.is_alive():
            if child is not None:
                self._stop(child)
            child = self._child = self._spawn()
        if not child.ready:
            conn = child.conns["query"]
            try:
                if not conn.poll(START_TIMEOUT):
                    raise EmbedChildError(f"the embedding process did not start in "
                                          f"{START_TIMEOUT:g} s")
                reply = conn.recv()
            except (EOFError, OSError) as exc:
                self._stop(child)
                self._child = None
                raise EmbedChildError(f"the embedding process died at start ({exc})") from exc
            except EmbedChildError:
                self._stop(child)
                self._child = None
                raise
            if reply[0] != "ready":
                self._stop(child)
                self._child = None
                if reply[1] == "ModelNotFoundError":
                    raise ModelNotFoundError(reply[2])
                raise EmbedChildError(f"the embedding process could not start: {reply[2]}")
            self._note(reply[1])
            child.ready = True
            self.last_start_seconds = time.monotonic() - child.started
            log.info("embedding process %s ready in %.2f s", child.process.pid,
                     self.last_start_seconds)
        return child

    def _call(self, channel_name: str, request: tuple[Any, ...]) -> Any:
        channel = self._channels[channel_name]
        with channel.lock:
            try:
                for attempt in (1, 2):
                    with self._life:
                        child = self._ready_child()
                    conn = child.conns[channel_name]
                    try:
                        conn.send(request)
                        reply = conn.recv()
                        break
                    except (EOFError, OSError) as exc:
                        # A child killed (out of memory, by hand) is started again, once.
                        log.warning("the embedding process was lost (%s)", exc)
                        with self._life:
                            if self._child is child:
                                self._stop(child)
                                self._child = None
                        if attempt == 2:
                            raise EmbedChildError("the embedding process died twice") from exc
            finally:
                self._last_used = time.monotonic()
        if reply[0] != "ok":
            raise EmbedChildError(f"the embedding process failed: {reply[1]}: {reply[2]}")
        self._note(reply[2])
        return reply[1]

    def _note(self, info: dict[str, Any]) -> None:
        if info["name"] != self.name or int(info["dim"]) != self.dim:
            raise EmbedChildError(
                f"the embedding process runs {info['name']} ({info['dim']} dimensions), "
                f"not {self.name} ({self.dim})"
            )
        self.device, self.precision = str(info["device"]), str(info["precision"])
        if info["full_loaded"] or not self.record["note"]:
            self.record.update(device=self.device, precision=self.precision,
                               note=str(info["note"]))

    def _stop(self, child: _Child) -> None:
        for conn in child.conns.values():
            conn.close()  # the child reads EOF and leaves
        child.process.join(STOP_TIMEOUT)
        if child.process.is_alive():
            child.process.terminate()
            child.process.join(STOP_TIMEOUT)
        if child.process.is_alive():
            child.process.kill()
            child.process.join()

    def _reap_idle(self) -> None:
        """Stop the child once nothing has asked it anything for idle_exit seconds."""
        while not self._closed.wait(min(1.0, max(self.idle_exit / 4, 0.05))):
            child = self._child
            if self.idle_exit <= 0 or child is None or not child.ready:
                continue  # none, or one still starting (its first request is on its way)
            if time.monotonic() - self._last_used < self.idle_exit:
                continue
            taken = [c.lock for c in self._channels.values() if c.lock.acquire(blocking=False)]
            try:
                if len(taken) < len(self._channels):
                    continue  # a request is in flight
                if time.monotonic() - self._last_used < self.idle_exit:
                    continue
                with self._life:
                    child, self._child = self._child, None
                    if child is not None:
                        self._stop(child)
                        log.info("the embedding process exited after %.0f s idle",
                                 self.idle_exit)
            finally:
                for lock in taken:
                    lock.release()


def _hidden_size(path: Path) -> int:
    try:
        return int(json.loads((path / "config.json").read_text(encoding="utf-8"))["hidden_size"])
    except (OSError, ValueError, KeyError) as exc:
        raise ModelNotFoundError(f"no hidden_size in {path / 'config.json'}") from exc


def _vectors(value: Any, dim: int) -> Vectors:
    vectors = np.asarray(value, dtype=np.float32)
    return vectors.reshape(-1, dim) if vectors.size else np.zeros((0, dim), np.float32)
