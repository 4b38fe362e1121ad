"""The desktop's one door to the engine: a Qt client for its local socket that heals itself.

It finds (or starts) the engine for a data dir, says hello with the token, subscribes to
events, polls status, and turns every message into a typed Qt signal. Nothing here blocks
the event loop and nothing the engine sends can raise into it: a bad line is logged and
skipped. When the connection drops it says so, then reconnects with backoff.
"""

from __future__ import annotations

import dataclasses
import logging
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtNetwork import QLocalSocket

from desktop.engine_lines import LineSplitter, salvage_id
from desktop.engine_process import read_target
from desktop.engine_signals import EngineSignals
from desktop.engine_spawner import Backoff, EngineSpawner
from desktop.signals import emit_signal, guarded
from engine.serve import protocol
from engine.serve.runtime import engine_running

log = logging.getLogger(__name__)
_guarded = guarded(log, "engine link")

CLIENT_NAME = "dowse-desktop"
SPAWN_POLL_MS = 100  # how often to look for an engine that is starting
HANDSHAKE_TIMEOUT_MS = 10_000  # a connected engine must welcome us within this long
MAX_PENDING_BYTES = 16 * protocol.MAX_MESSAGE_BYTES  # an unfinished line longer is skipped


class _State(Enum):
    IDLE = "idle"  # not started, closed, or stopped after shutdown_engine()
    WAITING = "waiting"  # the retry timer runs: an engine is starting, or after a failure
    CONNECTING = "connecting"
    GREETING = "greeting"  # hello sent, no welcome yet
    CONNECTED = "connected"


class EngineLink(EngineSignals):
    def __init__(self, data_dir: Path, parent: QObject | None = None, spawn: bool = True,
                 engine_command: list[str] | None = None, status_interval_ms: int = 1000) -> None:
        super().__init__(parent)
        self._data_dir = Path(data_dir)
        self._spawn = spawn
        self._spawner = EngineSpawner(self._data_dir, engine_command, self)
        self._state = _State.IDLE
        self._closed = False
        self._stopping = False  # shutdown_engine() was called: never restart or reconnect
        self._socket: QLocalSocket | None = None
        self._token = ""
        self._lines = LineSplitter(MAX_PENDING_BYTES)
        self._next_id = 1
        self._hello_id = 0
        self._queue: list[protocol.Message] = []  # the caller's requests, waiting for welcome
        self._in_flight: set[int] = set()  # the caller's requests sent and not yet answered
        self._internal: set[int] = set()  # the link's own subscribe and status polls
        self._status_poll_id: int | None = None
        self._latest_search_id: int | None = None
        self._backoff = Backoff()
        self._last_failure: str | None = None  # already reported during this outage

        self._retry_timer = QTimer(self, singleShot=True)
        self._retry_timer.timeout.connect(self._on_retry_timer_timeout)
        self._handshake_timer = QTimer(self, singleShot=True, interval=HANDSHAKE_TIMEOUT_MS)
        self._handshake_timer.timeout.connect(self._on_handshake_timer_timeout)
        self._status_interval_ms = status_interval_ms  # 0: no polling
        self._status_timer = QTimer(self, interval=max(status_interval_ms, 1))
        self._status_timer.timeout.connect(self._on_status_timer_timeout)

    # -- the caller's side ------------------------------------------------------------------

    def start(self) -> None:
        """Begin finding (or starting) the engine; returns at once, signals follow."""
        if not self._closed and self._state is _State.IDLE:
            self._stopping = False
            self._wait(0)

    def close(self) -> None:
        """Hang up for good and emit nothing more; an engine keeps running."""
        self._closed = True
        self._state = _State.IDLE
        for timer in (self._retry_timer, self._status_timer):
            timer.stop()
        self._spawner.close()  # collect an engine we started if it has exited
        self._drop_socket()
        self._queue.clear()
        self._in_flight.clear()

    def is_connected(self) -> bool:
        return self._state is _State.CONNECTED

    @property
    def latest_search_id(self) -> int | None:
        """The id search() returned last: answers to older searches are stale."""
        return self._latest_search_id

    def search(self, query: str, mode: str = "hybrid", k: int = 20, explain: bool = True,
               folders: tuple[str, ...] = (), types: tuple[str, ...] = (),
               modified_after: float | None = None, modified_before: float | None = None) -> int:
        self._latest_search_id = self._request(protocol.Search(
            query=query, mode=mode, k=k, explain=explain, folders=tuple(folders),
            types=tuple(types), modified_after=modified_after, modified_before=modified_before,
        ))
        return self._latest_search_id

    def pin(self, path: str) -> int:
        return self._request(protocol.Pin(path=path))

    def unpin(self, path: str) -> int:
        return self._request(protocol.Unpin(path=path))

    def forget(self, path: str) -> int:
        """Unpin a folder and purge its index; folder_forgotten says what was removed."""
        request_id = self._request(protocol.Forget(paths=(path,)))
        self._forget_ids.add(request_id)
        return request_id

    def pause(self, path: str | None = None) -> int:
        return self._request(protocol.Pause(path=path))

    def resume(self, path: str | None = None) -> int:
        return self._request(protocol.Resume(path=path))

    def reindex(self, path: str) -> int:
        return self._request(protocol.Reindex(path=path))

    def request_status(self) -> int:
        return self._request(protocol.Status())

    def request_errors(self, limit: int = 500) -> int:
        return self._request(protocol.ListErrors(limit=limit))

    def request_text(self, path: str, start: int | None = None, end: int | None = None) -> int:
        """A file's indexed text, for a preview (text_received); a long one comes as a window
        around the passage [start, end)."""
        return self._request(protocol.GetText(path=path, start=start, end=end))

    def similar(self, path: str, page: int | None = None, start: int | None = None,
                k: int | None = None) -> int:
        """"More like this": passages near that one in meaning (similar_received)."""
        request_id = self._request(protocol.Similar(path=path, page=page, start=start, k=k))
        self._similar_ids.add(request_id)
        return request_id

    def request_page(self, path: str, page: int, start: int | None = None,
                     end: int | None = None, width: int = 800) -> int:
        """One page drawn by the engine, the passage [start, end) marked (page_received)."""
        return self._request(protocol.GetPage(path=path, page=page, start=start, end=end,
                                              width=width))

    def open_member(self, path: str) -> int:
        """A document inside an archive, unpacked to a private copy (member_unpacked)."""
        return self._request(protocol.OpenMember(path=path))

    def rebuild_index(self) -> int:
        """Set a damaged index aside and start afresh with the same folders (request_completed)."""
        return self._request(protocol.Rebuild())

    def shutdown_engine(self) -> int:
        """Ask the engine to exit; the link then stops (engine_stopped) instead of healing."""
        self._stopping = True
        return self._request(protocol.Shutdown())

    def _request(self, message: protocol.Message) -> int:
        request_id = self._take_id()
        message = dataclasses.replace(message, id=request_id)
        if self._state is _State.CONNECTED:
            self._send(message)
            self._in_flight.add(request_id)
        else:
            if isinstance(message, protocol.Search):  # only the newest search is worth sending
                self._queue = [m for m in self._queue if not isinstance(m, protocol.Search)]
            self._queue.append(message)
        return request_id

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _send(self, message: protocol.Message) -> None:
        if self._socket is not None:
            self._socket.write(protocol.encode(message))

    def _send_internal(self, message: protocol.Message) -> int:
        request_id = self._take_id()
        self._internal.add(request_id)
        self._send(dataclasses.replace(message, id=request_id))
        return request_id

    # -- finding or starting the engine -----------------------------------------------------

    def _wait(self, ms: int) -> None:
        self._state = _State.WAITING
        self._retry_timer.start(ms)

    @_guarded
    def _on_retry_timer_timeout(self) -> None:
        if self._closed or self._state is not _State.WAITING:
            return
        if engine_running(self._data_dir):
            target = read_target(self._data_dir)
            if target is None:  # it holds the lock but has not written where it listens
                self._wait(SPAWN_POLL_MS)
            else:
                self._connect(*target)
        elif self._stopping:
            self._finish_stopping()
        elif self._spawner.starting or self._spawn:
            if self._spawner.starting:
                problem = self._spawner.start_problem()
            else:
                problem = self._spawner.spawn()
            if problem is None:
                self._wait(SPAWN_POLL_MS)
            else:
                self._fail(problem)
        else:
            self._fail(f"no engine is running for {self._data_dir}")

    def _fail(self, reason: str) -> None:
        """An attempt failed: report it (once per outage and reason), then try again later."""
        self._spawner.forget_start()
        self._drop_socket()
        self._report(reason)
        if not self._closed:
            self._wait(self._backoff.next_ms())

    def _report(self, reason: str) -> None:
        if reason != self._last_failure:
            self._last_failure = reason
            log.warning("engine link: %s", reason)
            emit_signal(self.engine_failed, reason)

    def _finish_stopping(self) -> None:
        self._state = _State.IDLE
        self._queue.clear()
        emit_signal(self.engine_stopped)

    # -- the connection ---------------------------------------------------------------------

    def _connect(self, path: str, token: str) -> None:
        self._drop_socket()
        self._token = token
        sock = QLocalSocket(self)
        sock.connected.connect(self._on_socket_connected)
        sock.readyRead.connect(self._on_socket_ready_read)
        sock.disconnected.connect(self._on_socket_disconnected)
        sock.errorOccurred.connect(self._on_socket_error_occurred)
        self._socket = sock
        self._state = _State.CONNECTING
        sock.connectToServer(path)  # a path starting with "/" is used as is

    def _drop_socket(self) -> None:
        self._handshake_timer.stop()
        self._status_timer.stop()
        self._lines.clear()
        self._internal.clear()
        self._status_poll_id = None
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.blockSignals(True)  # no late disconnected or readyRead from a socket we left
            sock.abort()
            sock.deleteLater()

    @_guarded
    def _on_socket_connected(self) -> None:
        if self._state is _State.CONNECTING:
            self._state = _State.GREETING
            self._hello_id = self._take_id()
            self._send(protocol.Hello(id=self._hello_id, token=self._token, client=CLIENT_NAME))
            self._handshake_timer.start()

    @_guarded
    def _on_socket_error_occurred(self, error: QLocalSocket.LocalSocketError) -> None:
        if self._socket is None or error == QLocalSocket.LocalSocketError.PeerClosedError:
            return  # for a hang-up, `disconnected` follows
        text = self._socket.errorString()
        if self._state is not _State.CONNECTING:
            self._lose(f"the connection to the engine failed: {text}")
        elif self._spawner.starting:  # the engine we started is not listening yet
            self._drop_socket()
            self._wait(SPAWN_POLL_MS)
        else:
            self._fail(f"cannot reach the engine: {text}")

    @_guarded
    def _on_socket_disconnected(self) -> None:
        self._on_socket_ready_read()  # what came just before the hang-up, such as why
        self._lose("the engine closed the connection")

    @_guarded
    def _on_handshake_timer_timeout(self) -> None:
        if self._state is _State.GREETING:
            self._lose(f"the engine did not answer hello within {HANDSHAKE_TIMEOUT_MS // 1000} s")

    @_guarded
    def _on_status_timer_timeout(self) -> None:
        if self._state is _State.CONNECTED and self._status_poll_id is None:
            self._status_poll_id = self._send_internal(protocol.Status())

    def _lose(self, reason: str) -> None:
        """The connection is gone: fail what was in flight, then heal (or stop, if asked)."""
        if self._socket is None:
            return
        self._drop_socket()
        lost, self._in_flight = sorted(self._in_flight), set()
        if self._stopping:
            self._finish_stopping()
        else:
            self._state = _State.WAITING
            self._report(reason)
        for request_id in lost:
            if not self._closed:
                emit_signal(self.request_failed, request_id, "disconnected", reason)
        if not self._closed and not self._stopping:
            self._wait(self._backoff.next_ms())

    # -- reading ----------------------------------------------------------------------------

    @_guarded
    def _on_socket_ready_read(self) -> None:
        sock = self._socket
        if sock is None:
            return
        self._lines.feed(bytes(sock.readAll().data()))
        while self._socket is sock and (line := self._lines.next_line()) is not None:
            self._take_line(line)

    def _take_line(self, line: bytes) -> None:
        try:
            message = protocol.decode(line)
        except protocol.ProtocolError as exc:
            log.warning("engine link: skipped a bad line from the engine (%s)", exc.message)
            # The line may hold passage text or a query: only debug logging keeps it.
            log.debug("engine link: the bad line: %.200r", line, extra={"private": True})
            request_id = exc.request_id if exc.request_id is not None else salvage_id(line)
            if request_id == self._status_poll_id:
                self._status_poll_id = None
            if request_id in self._in_flight:  # fail it, or the caller would wait for ever
                self._in_flight.discard(request_id)
                problem = f"the engine sent a bad reply: {exc.message}"
                emit_signal(self.request_failed, request_id, exc.code, problem)
            return
        try:
            self._dispatch(message)
        except Exception:  # a bug, here or in a slot connected to us: the link goes on
            log.exception("engine link: handling %s failed", message.TYPE)

    def _dispatch(self, message: protocol.Message) -> None:
        if self._state is _State.GREETING:
            if isinstance(message, protocol.Welcome) and message.id == self._hello_id:
                self._take_welcome(message)
            elif isinstance(message, protocol.Error):
                self._lose(f"the engine refused the connection ({message.code}): "
                           f"{message.message}")
        elif self._state is not _State.CONNECTED:
            return
        elif message.id is None:
            self._take_event(message)
        elif message.id in self._internal:
            self._internal.discard(message.id)
            if message.id == self._status_poll_id:
                self._status_poll_id = None
            if isinstance(message, protocol.StatusReport):
                emit_signal(self.status_received, message.status)
            elif isinstance(message, protocol.Error):
                log.warning("engine link: %s: %s", message.code, message.message)
        elif message.id in self._in_flight:
            self._in_flight.discard(message.id)
            self._take_reply(message.id, message)

    def _take_welcome(self, welcome: protocol.Welcome) -> None:
        self._handshake_timer.stop()
        self._state = _State.CONNECTED
        self._backoff.reset()
        self._spawner.forget_start()
        self._last_failure = None
        self._send_internal(protocol.Subscribe())
        queued, self._queue = self._queue, []
        for message in queued:
            self._send(message)
            self._in_flight.add(message.id or 0)
        if self._status_interval_ms > 0:
            self._status_poll_id = self._send_internal(protocol.Status())
            self._status_timer.start()
        log.info("engine link: connected to engine %s, pid %d", welcome.engine_version,
                 welcome.pid)
        emit_signal(self.connected, {"engine_version": welcome.engine_version, "pid": welcome.pid})
