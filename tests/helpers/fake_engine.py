"""A stand-in engine for desktop tests: the real protocol on a real Unix socket, in threads.

It takes the data dir's lock the way `engine.serve.server.EngineLock` does and writes
`engine.json` and `engine.token`, so `engine.serve.runtime.engine_running` and any client see a
running engine. It records every request, answers from scripted or recorded replies, pushes
events, and can crash. Plain sockets and threads, no Qt, so it needs no event loop.

Record a session from a real engine (needs the packaged model):
    python -m tests.helpers.fake_engine record tests/desktop/recordings/indexing_session.jsonl
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import json
import os
import queue
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.serve import protocol
from engine.serve.runtime import (
    INFO_FILE,
    LOCK_FILE,
    TOKEN_FILE,
    engine_running,
    write_private,
)
from engine.serve.text_window import text_reply

SearchReply = dict[str, Any] | Callable[[protocol.Search], dict[str, Any]]
FAKE_VERSION = "0.0.0-fake"


class _Connection:
    """One client: a reader thread (the engine's loop) and a writer thread with an outbox,
    so a push never blocks the test's thread, which is also the client's event loop."""

    def __init__(self, engine: FakeEngine, sock: socket.socket) -> None:
        self.sock = sock
        self.authenticated = False
        self.subscribed = False
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write, name="fake-engine-w", daemon=True)
        self.reader = threading.Thread(target=engine._read, args=(self,), name="fake-engine-r",
                                       daemon=True)

    def start(self) -> None:
        self._writer.start()
        self.reader.start()

    def send(self, data: bytes) -> None:
        self._outbox.put(data)

    def hang_up(self) -> None:
        """Cut the connection now (a crash): unsent data is lost."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader, fails the writer
        self._outbox.put(None)

    def flush(self) -> None:
        """Send what is queued, then cut the connection (a clean stop)."""
        self._outbox.put(None)
        if self._writer is not threading.current_thread():
            self._writer.join(2)  # a client that stopped reading gets cut off after this
        self.hang_up()

    def finish(self) -> None:
        """From the reader, at its end: send what is queued, then close."""
        self._outbox.put(None)
        self._writer.join(5)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def _write(self) -> None:
        while (data := self._outbox.get()) is not None:
            try:
                self.sock.sendall(data)
            except OSError:
                return


class FakeEngine:
    """Start with `start()` (or `with FakeEngine(dir) as fake:`); `stop()` at the end."""

    def __init__(self, data_dir: Path, refuse_auth: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.refuse_auth = refuse_auth  # answer every hello with an auth error, then hang up
        self.requests: list[protocol.Message] = []  # every decoded request, hello included
        self.token = ""
        self._runtime: Path | None = None
        self._lock_fd: int | None = None
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._running = threading.Event()
        self._guard = threading.RLock()
        self._halting = threading.Lock()  # a shutdown request's stop and the test's, in turn
        self._connections: list[_Connection] = []
        self._timers: list[threading.Timer] = []
        self._stopper: threading.Thread | None = None
        self._searches: dict[str | None, tuple[SearchReply, float]] = {}
        self._status: dict[str, Any] = {"engine": {"state": "running", "activity": "idle"},
                                        "queue": 0, "folder_list": []}
        self._errors: list[dict[str, Any]] = []
        self._texts: dict[str, str] = {}
        self._similar: SearchReply | None = None
        self._pages: dict[str, tuple[bytes, int, int, tuple[tuple[float, ...], ...]]] = {}
        self._scripted_errors: dict[str, tuple[str, str]] = {}
        self._members: dict[str, str] = {}
        self._replay: dict[str, deque[tuple[dict[str, Any], list[dict[str, Any]]]]] = {}

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def socket_path(self) -> Path:
        if self._runtime is None:
            self._runtime = Path(tempfile.mkdtemp(prefix="dw-"))  # sun_path is short
        return self._runtime / "fake-engine.sock"

    def start(self) -> FakeEngine:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(fd, 0)  # no stale holder named (EngineLock writes its own)
        except OSError:
            os.close(fd)
            raise
        self._lock_fd = fd
        path = self.socket_path
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by a crash, as a real engine's would be
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(8)
        listener.settimeout(0.05)
        self._listener = listener
        self.token = secrets.token_hex(16)
        write_private(self.data_dir / TOKEN_FILE, self.token)
        info = {"pid": os.getpid(), "socket": str(path), "version": FAKE_VERSION,
                "protocol": protocol.PROTOCOL_VERSION, "started": time.time()}
        write_private(self.data_dir / INFO_FILE, json.dumps(info))
        self._running.set()
        self._acceptor = threading.Thread(target=self._accept, name="fake-engine", daemon=True)
        self._acceptor.start()
        return self

    def restart(self) -> FakeEngine:
        """Start again on the same data dir and socket path, with a new token (after crash)."""
        return self.start()

    def crash(self) -> None:
        """Die like a killed process: connections cut, lock released, files left behind."""
        self._halt(graceful=False)

    def stop(self) -> None:
        """Shut down cleanly, like a real engine: files and socket removed."""
        stopper = self._stopper
        if stopper is not None and stopper is not threading.current_thread():
            stopper.join(5)
        self._halt()
        for name in (INFO_FILE, TOKEN_FILE):
            with contextlib.suppress(OSError):
                (self.data_dir / name).unlink()
        if self._runtime is not None:
            shutil.rmtree(self._runtime, ignore_errors=True)
            self._runtime = None

    def _halt(self, graceful: bool = True) -> None:
        with self._halting:
            self._halt_now(graceful)

    def _halt_now(self, graceful: bool) -> None:
        with self._guard:
            self._running.clear()
            timers, self._timers = self._timers, []
            connections, self._connections = self._connections, []
        for timer in timers:
            timer.cancel()
        if self._acceptor is not None and self._acceptor is not threading.current_thread():
            self._acceptor.join(5)
        self._acceptor = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for connection in connections:
            if graceful:
                connection.flush()
            else:
                connection.hang_up()
        for connection in connections:
            if connection.reader is not threading.current_thread():
                connection.reader.join(5)
        for timer in timers:
            if timer is not threading.current_thread():
                timer.join(5)
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> FakeEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return engine_running(self.data_dir)

    @property
    def subscribers(self) -> int:
        with self._guard:
            return sum(1 for c in self._connections if c.subscribed)

    # -- scripting --------------------------------------------------------------------------

    def reply_search(self, response: SearchReply, delay: float = 0.0,
                     query: str | None = None) -> None:
        """Answer searches (for `query`, or every query) with `response`, after `delay` s.

        `response` is a dict or a callable given the Search request. Per-query replies win.
        """
        self._searches[query] = (response, delay)

    def reply_status(self, status: dict[str, Any]) -> None:
        self._status = status

    def reply_errors(self, errors: list[dict[str, Any]]) -> None:
        self._errors = errors

    def reply_text(self, path: str, text: str) -> None:
        """Answer get_text for `path` with `text` (other paths get an error reply)."""
        self._texts[path] = text

    def reply_similar(self, response: dict[str, Any] | Callable[[protocol.Similar],
                                                                dict[str, Any]]) -> None:
        """Answer "more like this" (similar) with `response`, a dict or a callable given the
        request; unscripted, the answer has no results."""
        self._similar = response  # type: ignore[assignment]

    def reply_page(self, path: str, png: bytes, width: int, height: int,
                   regions: tuple[tuple[float, float, float, float], ...] = ()) -> None:
        """Answer get_page for `path`, any page, with this PNG (other paths get an error)."""
        self._pages[path] = (png, width, height, tuple(regions))

    def reply_member(self, entry: str, copy: str) -> None:
        """Answer open_member for `entry` with the path of its unpacked copy."""
        self._members[entry] = copy

    def reply_error(self, request_type: str, code: str, message: str) -> None:
        """Answer every request of this type with an error reply."""
        self._scripted_errors[request_type] = (code, message)

    def forget_error(self, request_type: str) -> None:
        """Answer this type as usual again, after reply_error."""
        self._scripted_errors.pop(request_type, None)

    def replay(self, recording: Recording) -> None:
        """Answer each request type with the recording's replies in order, the last repeating;
        after each reply, push the events that followed it in the recording."""
        self._replay = recording.replies_by_type()

    def push(self, event: protocol.Message) -> None:
        """Send an event to every subscribed client."""
        self._broadcast(protocol.encode(event), subscribed_only=True)

    def push_raw(self, data: bytes) -> None:
        """Send raw bytes (malformed lines, say) to every authenticated client."""
        self._broadcast(data, subscribed_only=False)

    def requests_of(self, request_type: str) -> list[protocol.Message]:
        with self._guard:
            return [r for r in self.requests if r.TYPE == request_type]

    def _broadcast(self, data: bytes, subscribed_only: bool) -> None:
        with self._guard:
            targets = [c for c in self._connections
                       if c.authenticated and (c.subscribed or not subscribed_only)]
        for connection in targets:
            connection.send(data)

    # -- serving ----------------------------------------------------------------------------

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        while self._running.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            connection = _Connection(self, sock)
            with self._guard:
                if not self._running.is_set():
                    sock.close()
                    return
                self._connections.append(connection)
            connection.start()

    def _read(self, connection: _Connection) -> None:
        buffer = bytearray()
        try:
            while True:
                try:
                    chunk = connection.sock.recv(1 << 16)
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while (newline := buffer.find(b"\n")) >= 0:
                    line = bytes(buffer[:newline])
                    del buffer[: newline + 1]
                    if line.strip() and not self._handle(connection, line):
                        return
        finally:
            with self._guard, contextlib.suppress(ValueError):
                self._connections.remove(connection)
            connection.finish()

    def _handle(self, connection: _Connection, line: bytes) -> bool:
        """Answer one line; False to hang up."""
        try:
            message = protocol.decode(line)
        except protocol.ProtocolError as exc:
            self._send(connection, protocol.Error(id=exc.request_id, code=exc.code,
                                                  message=exc.message))
            return connection.authenticated
        with self._guard:
            self.requests.append(message)
        if not connection.authenticated:
            if not isinstance(message, protocol.Hello):
                self._send(connection, protocol.Error(
                    id=message.id, code="auth", message="the first message must be hello"))
                return False
            if self.refuse_auth or message.token != self.token:
                self._send(connection, protocol.Error(id=message.id, code="auth",
                                                      message="wrong token"))
                return False
            connection.authenticated = True
            self._send(connection, protocol.Welcome(
                id=message.id, engine_version=FAKE_VERSION, pid=os.getpid()))
            return True
        if message.TYPE in self._scripted_errors:
            code, text = self._scripted_errors[message.TYPE]
            self._send(connection, protocol.Error(id=message.id, code=code, message=text))
            return True
        if message.TYPE in self._replay:
            return self._replay_reply(connection, message)
        if isinstance(message, protocol.Search):
            reply, delay = self._searches.get(message.query) or self._searches.get(
                None, (_empty_response, 0.0))
            response = reply(message) if callable(reply) else reply
            self._send(connection, protocol.SearchResults(id=message.id, response=response),
                       delay)
        elif isinstance(message, protocol.Status):
            self._send(connection, protocol.StatusReport(id=message.id, status=self._status))
        elif isinstance(message, protocol.ListErrors):
            errors = tuple(self._errors[: message.limit])
            self._send(connection, protocol.ErrorList(id=message.id, errors=errors))
        elif isinstance(message, protocol.GetText):
            stored = self._texts.get(message.path)
            if stored is None:
                self._send(connection, protocol.Error(
                    id=message.id, code="failed", message=f"not indexed: {message.path}"))
            else:  # a long text goes as the real engine sends it: a window around the passage
                self._send(connection, text_reply(message, stored, complete=True))
        elif isinstance(message, protocol.Similar):
            reply = self._similar or _empty_similar
            response = reply(message) if callable(reply) else reply
            self._send(connection, protocol.SearchResults(id=message.id, response=response))
        elif isinstance(message, protocol.GetPage):
            self._send(connection, self._page_reply(message))
        elif isinstance(message, protocol.OpenMember) and message.path in self._members:
            self._send(connection, protocol.MemberFile(
                id=message.id, path=message.path, file=self._members[message.path]))
        elif isinstance(message, protocol.Subscribe):
            connection.subscribed = True
            self._send(connection, protocol.Done(id=message.id, detail="subscribed"))
        elif isinstance(message, protocol.Shutdown):
            self._send(connection, protocol.Done(id=message.id, detail="shutting down"))
            self._stop_soon()
        elif isinstance(message, protocol.Forget):  # as the engine words it
            detail = f"forgot {', '.join(message.paths)}: 0 file(s) and 0 passage(s) removed"
            self._send(connection, protocol.Done(id=message.id, detail=detail))
        else:
            detail = f"{message.TYPE} {getattr(message, 'path', None) or 'everything'}"
            self._send(connection, protocol.Done(id=message.id, detail=detail))
        return True

    def _page_reply(self, request: protocol.GetPage) -> protocol.Message:
        page = self._pages.get(request.path)
        if page is None:
            return protocol.Error(id=request.id, code="failed",
                                  message=f"no page to draw: {request.path}")
        png, width, height, regions = page
        return protocol.PageImage(
            id=request.id, path=request.path, page=request.page,
            png=base64.b64encode(png).decode("ascii"), width=width, height=height,
            regions=regions)  # type: ignore[arg-type]

    def _replay_reply(self, connection: _Connection, message: protocol.Message) -> bool:
        entries = self._replay[message.TYPE]
        reply, events = entries.popleft() if len(entries) > 1 else entries[0]
        if message.TYPE == "subscribe":
            connection.subscribed = True
        connection.send(_encode_raw({**reply, "id": message.id}))
        for event in events:
            connection.send(_encode_raw(event))
        if message.TYPE == "shutdown":
            self._stop_soon()
        return True

    def _send(self, connection: _Connection, message: protocol.Message,
              delay: float = 0.0) -> None:
        data = protocol.encode(message)
        if delay <= 0:
            connection.send(data)
            return
        timer = threading.Timer(delay, connection.send, args=(data,))
        timer.daemon = True
        with self._guard:
            self._timers.append(timer)
        timer.start()

    def _stop_soon(self) -> None:
        """A shutdown request: stop from another thread, since this reader must finish."""
        self._stopper = threading.Thread(target=self._halt_and_clean, daemon=True)
        self._stopper.start()

    def _halt_and_clean(self) -> None:
        self._halt()
        for name in (INFO_FILE, TOKEN_FILE):
            with contextlib.suppress(OSError):
                (self.data_dir / name).unlink()


def _empty_response(search: protocol.Search) -> dict[str, Any]:
    return {"query": search.query, "mode": search.mode, "confident": False,
            "elapsed_ms": 0.0, "results": []}


def _empty_similar(request: protocol.Similar) -> dict[str, Any]:
    return {"query": "", "mode": "similar", "confident": False, "elapsed_ms": 0.0,
            "results": []}


def _encode_raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


# -- recordings ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Recording:
    """Protocol traffic from a real engine: (side, message) pairs, side "client" or "engine"."""

    entries: tuple[tuple[str, dict[str, Any]], ...]

    @classmethod
    def load(cls, path: Path) -> Recording:
        entries = []
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                raw = json.loads(line)
                entries.append((raw["from"], raw["message"]))
        return cls(tuple(entries))

    def engine_messages(self, message_type: str | None = None) -> list[protocol.Message]:
        """The engine's messages, decoded by the real protocol (which checks them)."""
        return self._decoded("engine", message_type)

    def client_messages(self, message_type: str | None = None) -> list[protocol.Message]:
        return self._decoded("client", message_type)

    def _decoded(self, side: str, message_type: str | None) -> list[protocol.Message]:
        return [protocol.decode(json.dumps(m)) for s, m in self.entries
                if s == side and message_type in (None, m["type"])]

    def replies_by_type(self) -> dict[str, deque[tuple[dict[str, Any], list[dict[str, Any]]]]]:
        request_types: dict[int, str] = {}
        replies: dict[str, deque[tuple[dict[str, Any], list[dict[str, Any]]]]] = {}
        current: list[dict[str, Any]] | None = None
        for side, message in self.entries:
            if side == "client":
                request_types[message["id"]] = message["type"]
            elif message["id"] is None:
                if current is not None:
                    current.append(message)
            else:
                request_type = request_types.get(message["id"])
                if request_type is None or request_type == "hello":
                    continue
                current = []
                replies.setdefault(request_type, deque()).append((message, current))
        return replies


def record_session(out: Path, timeout: float = 120.0) -> None:
    """Drive a real `dowse serve` through a small indexing session and write its traffic."""
    from tests.helpers.engine_process import short_runtime_dir, start_engine, stop_engine

    work = Path(tempfile.mkdtemp(prefix="dowse-rec-"))
    folder, data = work / "notes", work / "data"
    folder.mkdir()
    texts = {
        "tern.txt": "Arctic terns migrate from pole to pole every year, the longest flight.",
        "bread.txt": "The sourdough starter needs feeding twice a day with rye flour.",
        "budget.md": "# Budget\n\nQuarterly revenue grew by twelve percent in Lisbon.",
        "garden.txt": "Tomatoes want full sun; basil grows well beside them in the bed.",
    }
    for name, text in texts.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 junk")
    runtime = short_runtime_dir()
    process = start_engine(data, runtime)
    log: list[tuple[str, dict[str, Any]]] = []
    try:
        deadline = time.monotonic() + timeout
        while not (engine_running(data) and (data / INFO_FILE).exists()):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the engine did not start")
            time.sleep(0.05)
        info = json.loads((data / INFO_FILE).read_text())
        token = (data / TOKEN_FILE).read_text().strip()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(info["socket"])
            _drive(sock, log, token, folder, deadline)
    finally:
        stop_engine(process)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(runtime, ignore_errors=True)
    text = "\n".join(json.dumps({"from": side, "message": message}, ensure_ascii=False)
                     for side, message in log) + "\n"
    for real, shown in ((str(folder), "/recorded/notes"), (str(data), "/recorded/data"),
                        (token, "recorded-token")):
        text = text.replace(real, shown)
    Path(out).write_text(text, encoding="utf-8")


def _drive(sock: socket.socket, log: list[tuple[str, dict[str, Any]]], token: str,
           folder: Path, deadline: float) -> None:
    buffer = bytearray()
    next_id = iter(range(1, 1000))

    def read(wait: float) -> dict[str, Any] | None:
        sock.settimeout(max(wait, 0.01))
        while b"\n" not in buffer:
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                return None
            if not chunk:
                return None
            buffer.extend(chunk)
        newline = buffer.find(b"\n")
        message: dict[str, Any] = json.loads(bytes(buffer[:newline]))
        del buffer[: newline + 1]
        log.append(("engine", message))
        return message

    def ask(message: protocol.Message) -> dict[str, Any]:
        message = dataclasses.replace(message, id=next(next_id))
        log.append(("client", json.loads(protocol.encode(message))))
        sock.sendall(protocol.encode(message))
        while (reply := read(deadline - time.monotonic())) is not None:
            if reply["id"] == message.id:
                return reply
        raise RuntimeError(f"no reply to {message.TYPE}")

    ask(protocol.Hello(token=token, client="recorder"))
    ask(protocol.Subscribe())
    ask(protocol.Status())
    ask(protocol.Pin(path=str(folder)))
    idle = False
    while time.monotonic() < deadline:
        report = ask(protocol.Status())
        if idle and report["status"]["queue"] == 0:
            break
        until = time.monotonic() + 0.5
        while (event := read(until - time.monotonic())) is not None:
            idle = idle or (event["type"] == "folder_state" and event["state"] == "idle")
    ask(protocol.Search(query="birds flying far", mode="hybrid", k=3, explain=True))
    ask(protocol.Search(query="sourdough", mode="keyword", k=3, types=("txt",)))
    ask(protocol.Search(query="anything", mode="bogus"))
    ask(protocol.ListErrors(limit=500))
    ask(protocol.GetText(path=str(folder / "tern.txt")))
    ask(protocol.Shutdown())


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "record":
        sys.exit("usage: python -m tests.helpers.fake_engine record OUT.jsonl")
    record_session(Path(sys.argv[2]))
