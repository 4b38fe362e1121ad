"""Talks to a running engine over its socket: what the CLI uses when `dowse serve` runs.

(The desktop app has its own Qt client in `desktop/`, speaking the same protocol.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from engine.private_files import open_private, private_dir
from engine.serve import protocol
from engine.serve.runtime import ENGINE_LOG, INFO_FILE, TOKEN_FILE, engine_running

M = TypeVar("M", bound=protocol.Message)


class EngineError(RuntimeError):
    """The engine answered a request with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class EngineUnavailableError(ConnectionError):
    """No engine runs for the data dir, or it cannot be reached."""


class EngineClient:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()
        self._next_id = 1
        self.events: deque[protocol.Message] = deque()

    @classmethod
    def connect(
        cls, data_dir: Path, timeout: float = 10.0, client: str = "dowse-cli"
    ) -> EngineClient:
        if not engine_running(data_dir):
            raise EngineUnavailableError(f"no engine is running for {data_dir}")
        # An engine holds its lock a moment before it listens: retry until the deadline.
        deadline = time.monotonic() + timeout
        while True:
            try:
                info = json.loads((data_dir / INFO_FILE).read_text())
                token = (data_dir / TOKEN_FILE).read_text().strip()
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                try:
                    sock.connect(info["socket"])
                except OSError:
                    sock.close()
                    raise
                break
            except (OSError, ValueError, KeyError) as exc:
                if time.monotonic() > deadline or not engine_running(data_dir):
                    raise EngineUnavailableError(
                        f"cannot reach the engine for {data_dir}: {exc}"
                    ) from exc
                time.sleep(0.05)
        engine = cls(sock)
        try:
            engine.request(protocol.Hello(token=token, client=client), protocol.Welcome)
        except (EngineError, OSError) as exc:
            engine.close()
            raise EngineUnavailableError(f"the engine refused the connection: {exc}") from exc
        return engine

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> EngineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------

    def request(self, message: protocol.Message, expect: type[M], timeout: float | None = None
                ) -> M:
        """Send a request and wait for its reply; events that arrive meanwhile are kept."""
        request_id = self._next_id
        self._next_id += 1
        message = _with_id(message, request_id)
        self.sock.sendall(protocol.encode(message))
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.id != request_id:
                if reply.id is None and not isinstance(reply, protocol.Error):
                    self.events.append(reply)
                    continue
                if reply.id is not None:
                    continue  # a reply to a request given up on earlier
            if isinstance(reply, protocol.Error):
                raise EngineError(reply.code, reply.message)
            if not isinstance(reply, expect):
                raise EngineError("bad_message", f"expected {expect.TYPE}, got {reply.TYPE}")
            return reply

    def next_event(self, timeout: float) -> protocol.Message | None:
        if self.events:
            return self.events.popleft()
        try:
            return self._read_message(time.monotonic() + timeout)
        except TimeoutError:
            return None

    def search(self, query: str, **options: Any) -> dict[str, Any]:
        reply = self.request(protocol.Search(query=query, **options), protocol.SearchResults)
        return reply.response

    def similar(
        self, path: str, page: int | None = None, start: int | None = None, k: int | None = None
    ) -> dict[str, Any]:
        """"More like this": the same shape as search(), with a `source` key."""
        request = protocol.Similar(path=path, page=page, start=start, k=k)
        return self.request(request, protocol.SearchResults).response

    def page_image(
        self, path: str, page: int, start: int | None = None, end: int | None = None,
        width: int = 800,
    ) -> protocol.PageImage:
        request = protocol.GetPage(path=path, page=page, start=start, end=end, width=width)
        return self.request(request, protocol.PageImage, timeout=120.0)

    def status(self) -> dict[str, Any]:
        return self.request(protocol.Status(), protocol.StatusReport).status

    def pin(self, path: str) -> str:
        return self.request(protocol.Pin(path=path), protocol.Done).detail

    def unpin(self, path: str) -> str:
        return self.request(protocol.Unpin(path=path), protocol.Done).detail

    def forget(self, paths: Sequence[str], timeout: float = 300.0) -> str:
        """Unpin and purge; what was removed. A purge rewrites the keyword index: seconds."""
        reply = self.request(protocol.Forget(paths=tuple(paths)), protocol.Done, timeout)
        return reply.detail

    def reindex(self, path: str) -> str:
        return self.request(protocol.Reindex(path=path), protocol.Done).detail

    def errors(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.request(protocol.ListErrors(limit=limit), protocol.ErrorList).errors)

    def subscribe(self) -> None:
        self.request(protocol.Subscribe(), protocol.Done)

    def shutdown(self) -> None:
        self.request(protocol.Shutdown(), protocol.Done)

    # -- reading ----------------------------------------------------------------------------

    def _read_message(self, deadline: float | None) -> protocol.Message:
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                try:
                    return protocol.decode(line)
                except protocol.ProtocolError as exc:
                    raise EngineError(exc.code, f"the engine sent a bad message: {exc}") from None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no reply from the engine in time")
                self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EngineUnavailableError("the engine closed the connection")
            self._buffer += chunk


def _with_id(message: M, request_id: int) -> M:
    return dataclasses.replace(message, id=request_id)


def spawn_engine(
    data_dir: Path, wait: float = 60.0, background: bool = False
) -> subprocess.Popen[bytes]:
    """Start `dowse serve` for the data dir in the background and wait until it answers;
    `background`: one that exits when idle (`dowse serve --background`)."""
    private_dir(data_dir)
    log_path = data_dir / ENGINE_LOG
    command = [sys.executable, "-m", "engine.cli", "serve", "--data-dir", str(data_dir)]
    with os.fdopen(open_private(log_path, os.O_WRONLY | os.O_APPEND), "ab") as log_file:
        process = subprocess.Popen(
            command + (["--background"] if background else []),
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
            start_new_session=True, env={**os.environ},
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise EngineUnavailableError("the engine exited at start: " + " | ".join(tail))
        try:
            EngineClient.connect(data_dir, timeout=2.0).close()
            return process
        except EngineUnavailableError:
            time.sleep(0.1)
    process.kill()
    raise EngineUnavailableError(f"the engine did not answer within {wait:g} s")
