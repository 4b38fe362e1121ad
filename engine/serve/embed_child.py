"""The embedding child: the one process that holds the model, so the engine never loads torch.

engine/serve/remote_encoder.py spawns it and talks to it over two pipes: one for queries and
explanations, one for passages being indexed, each served on its own thread here, as search
threads and the worker shared the encoder in-process before. Queries are embedded by the lean
numpy forward (engine/embed/lean_bert.py) once it has agreed with the full encoder on the
calibration texts (the verdict is cached beside the precision check), so a child started for a
query answers without importing torch; the full encoder (whatever engine/embed builds) loads on
the first passage batch or explanation. The child exits when the engine closes its pipes,
when the engine dies (the pipes read as closed), or on an "exit" request.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from engine.config import EmbedConfig
from engine.embed.base import Encoder
from engine.embed.calibration import VerdictCache
from engine.embed.lean_bert import LeanQueryEncoder, supported
from engine.embed.lean_check import check_lean, lean_key
from engine.embed.model_dir import resolve_model_dir
from engine.embed.threads import limit_blas_threads

log = logging.getLogger(__name__)

Reply = tuple[Any, ...]


class ChildModels:
    """The lean query path and the full encoder, the latter loaded on first need."""

    def __init__(self, config: EmbedConfig, cache_dir: Path | None) -> None:
        self.config = config
        self.path = resolve_model_dir(config.model_path)
        self._verdicts = VerdictCache(cache_dir)
        self._cache_dir = cache_dir
        self._key = lean_key(config, self.path) if supported(self.path) else ""
        self._lean: LeanQueryEncoder | None = None
        self._full: Encoder | None = None
        self._full_lock = threading.Lock()

    def start(self) -> None:
        """Make queries answerable: the lean path if it passed its check before, else the full
        encoder (and the lean path is checked against it, for the next start)."""
        verdict = self._verdicts.get(self._key) if self._key else None
        if verdict is not None and verdict.passed:
            self._lean = LeanQueryEncoder(self.path, self.config)
            # The full encoder follows at low priority: the app asks to explain its results
            # a moment after the query, and torch takes seconds to load (10 s and more on a
            # busy 2-core machine), longer than a client waits for one reply.
            threading.Thread(target=self._preload, name="dowse-embed-preload",
                             daemon=True).start()
            return
        full = self.full()
        if self._key and verdict is None:
            self._check_lean(full)

    def _preload(self) -> None:
        _lower_priority()
        try:
            self.full()
        except Exception:  # said again, to the request that needs it
            log.exception("the full encoder did not load")

    def full(self) -> Encoder:
        with self._full_lock:
            if self._full is None:
                from engine.embed.transformer import load_encoder  # torch: seconds

                self._full = load_encoder(self.config, self._cache_dir)
            return self._full

    def _check_lean(self, full: Encoder) -> None:
        self._lean = check_lean(full, self.config, self.path, self._verdicts, self._key)

    def info(self) -> dict[str, Any]:
        full = self._full
        lean = self._lean
        source: Any = full if full is not None else lean
        if full is not None:
            note = full.describe()
        else:
            note = "queries by the lean numpy forward; the full encoder loads when needed"
        return {
            "name": source.name, "dim": source.dim, "max_tokens": source.max_tokens,
            "pooling": getattr(source, "pooling", "mean"),
            "device": getattr(full, "device", "cpu"),
            "precision": getattr(full, "precision", "fp32"),
            "note": note, "queries": "lean" if lean is not None else "full",
            "full_loaded": full is not None, "pid": os.getpid(),
        }

    # -- requests ----------------------------------------------------------------------------

    def answer(self, request: tuple[Any, ...]) -> Any:
        kind = request[0]
        if kind == "queries":
            encoder: Any = self._lean if self._lean is not None else self.full()
            return encoder.encode_queries(request[1])
        if kind == "passages":
            return self.full().encode_passages(request[1])
        if kind == "explain":
            from engine.search.explain import explain_passages

            return explain_passages(self.full(), request[1], request[2])
        if kind == "load_full":
            self.full()
            return None
        if kind == "info":
            return None
        raise ValueError(f"unknown embedding request {kind!r}")


def _serve_channel(conn: Connection, models: ChildModels, on_start: Callable[[], None]) -> None:
    on_start()
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            os._exit(0)  # the engine closed the pipe or died: nothing left to serve
        if request[0] == "exit":
            os._exit(0)
        try:
            reply: Reply = ("ok", models.answer(request), models.info())
        except Exception as exc:  # one request's failure is that request's error
            log.exception("embedding request %s failed", request[0])
            reply = ("error", type(exc).__name__, str(exc))
        try:
            conn.send(reply)
        except (EOFError, OSError):
            os._exit(0)


def _lower_priority() -> None:
    try:  # passages are background work: searches' queries come first
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


def serve(
    query_conn: Connection, bulk_conn: Connection, config: EmbedConfig,
    cache_dir: Path | None, log_level: int,
) -> None:
    """The child's main: say "ready" (or why not) on the query pipe, then answer both."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the engine's to handle
    logging.basicConfig(level=log_level, format="%(asctime)s dowse-embed %(levelname)s "
                        "%(name)s: %(message)s")
    limit_blas_threads()
    models = ChildModels(config, cache_dir)
    try:
        models.start()
    except Exception as exc:  # a missing or broken model: the engine says so in status
        query_conn.send(("error", type(exc).__name__, str(exc)))
        return
    query_conn.send(("ready", models.info()))
    bulk = threading.Thread(target=_serve_channel, args=(bulk_conn, models, _lower_priority),
                            name="dowse-embed-bulk", daemon=True)
    bulk.start()
    _serve_channel(query_conn, models, lambda: None)
