"""`dowse serve`: one engine process per data dir, reachable only through a private local socket.

The socket is a Unix domain socket, mode 0600, in the user's runtime dir (never a TCP port),
and a client must also present the token kept in a 0600 file in the data dir. A lock file
makes a second engine on the same data dir exit and name the running one. Each connection
has its own reader thread and a bounded outbox, so a slow or broken client only ever stalls
itself.
"""

from __future__ import annotations

import contextlib
import gc
import hmac
import json
import logging
import os
import queue
import secrets
import signal
import socket
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from engine import __version__
from engine.config import Config, ensure_data_dir, load_config
from engine.search.response_json import response_dict
from engine.search.searcher import UnknownModeError
from engine.serve import protocol
from engine.serve.idle_exit import IdleClock
from engine.serve.runtime import (
    INFO_FILE,
    TOKEN_FILE,
    EngineLock,
    socket_path,
    write_private,
)
from engine.serve.service import EngineService, rebuilt_service
from engine.serve.text_window import text_reply
from engine.serve.writer_health import REBUILD_HINT
from engine.store.integrity import is_corruption

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 10.0  # a connection must authenticate within this long
SEND_TIMEOUT = 10.0  # a client that reads nothing for this long is dropped
OUTBOX_MESSAGES = 2000  # queued replies and events per client before it counts as stuck
COMMAND_TIMEOUT = 300.0  # the longest a pin or unpin waits for the worker to take it


class Connection:
    def __init__(self, server: Server, sock: socket.socket, number: int) -> None:
        self.server = server
        self.sock = sock
        self.name = f"client-{number}"
        self.authenticated = False
        self.subscribed = False
        self.refused = False  # the reader stops; the writer sends the refusal and hangs up
        self.closed = threading.Event()
        self._outbox: queue.Queue[bytes | None] = queue.Queue(OUTBOX_MESSAGES)
        sock.settimeout(SEND_TIMEOUT)
        name = f"dowse-{self.name}"
        self._reader = threading.Thread(target=self._read, name=name, daemon=True)
        self._writer = threading.Thread(target=self._write, name=name + "-w", daemon=True)

    def start(self) -> None:
        self._writer.start()
        self._reader.start()

    def send(self, message: protocol.Message) -> None:
        if self.closed.is_set():
            return
        try:
            self._outbox.put_nowait(protocol.encode(message))
        except queue.Full:
            log.warning("%s reads too slowly; disconnecting it", self.name)
            self.close()

    def close(self) -> None:
        """Hang up now, dropping anything not yet sent."""
        if self.closed.is_set():
            return
        self.closed.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self._finish()

    def _finish(self) -> None:
        """Hang up once everything queued so far is sent."""
        with contextlib.suppress(queue.Full):
            self._outbox.put_nowait(None)
        self.server.forget(self)

    def _write(self) -> None:
        try:
            while (data := self._outbox.get()) is not None:
                self.sock.sendall(data)
        except OSError:  # includes the send timeout: a client that stopped reading
            pass
        finally:
            self.closed.set()
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                self.sock.close()
            self.server.forget(self)

    def _read(self) -> None:
        buffer = bytearray()
        skipping = False  # inside a line that was too long, until its newline
        deadline = time.monotonic() + HELLO_TIMEOUT
        try:
            while not self.closed.is_set() and not self.refused:
                try:
                    chunk = self.sock.recv(1 << 16)
                except TimeoutError:
                    if not self.authenticated and time.monotonic() > deadline:
                        self._refuse("auth", "no hello within the time limit")
                        return
                    continue
                if not chunk:
                    return
                buffer += chunk
                while True:
                    newline = buffer.find(b"\n")
                    if newline < 0:
                        if len(buffer) > protocol.MAX_MESSAGE_BYTES:
                            if not skipping:
                                self._error(None, "too_large", _too_large())
                            skipping = True
                            buffer.clear()
                        break
                    line = bytes(buffer[:newline])
                    del buffer[: newline + 1]
                    if skipping:
                        skipping = False
                        continue
                    if line.strip():
                        self._handle(line)
                    if self.closed.is_set() or self.refused:
                        return
                if not self.authenticated and time.monotonic() > deadline:
                    self._refuse("auth", "no hello within the time limit")
                    return
        except OSError:
            pass
        finally:
            self._finish()

    def _handle(self, line: bytes) -> None:
        try:
            message = protocol.decode(line)
        except protocol.ProtocolError as exc:
            if not self.authenticated and exc.code == "version":
                self._refuse(exc.code, exc.message, exc.request_id)
                return
            self._error(exc.request_id, exc.code, exc.message)
            return
        if not self.authenticated:
            self._authenticate(message)
            return
        if message.TYPE not in protocol.REQUEST_TYPES or isinstance(message, protocol.Hello):
            self._error(message.id, "unknown_type", f"{message.TYPE!r} is not a request")
            return
        try:
            reply = self.server.handle(self, message)
        except (ValueError, OSError, UnknownModeError) as exc:
            self._error(message.id, "failed", str(exc))
            return
        except Exception as exc:  # a bug: keep serving, but say so and log it whole
            if is_corruption(exc):
                self.server.service.note_damage(exc)
                self._error(message.id, "database_corrupt", f"{exc}. {REBUILD_HINT}")
                return
            log.exception("request %s failed", message.TYPE)
            self._error(message.id, "internal", f"{type(exc).__name__}: {exc}")
            return
        self.send(reply)

    def _authenticate(self, message: protocol.Message) -> None:
        if not isinstance(message, protocol.Hello):
            self._refuse("auth", "the first message must be hello with the engine's token")
            return
        if not hmac.compare_digest(message.token.encode(), self.server.token.encode()):
            self._refuse("auth", "wrong token", message.id)
            return
        self.authenticated = True
        log.info("%s connected (%s)", self.name, message.client or "unnamed")
        self.send(protocol.Welcome(id=message.id, engine_version=__version__, pid=os.getpid()))

    def _error(self, request_id: int | None, code: str, text: str) -> None:
        self.send(protocol.Error(id=request_id, code=code, message=text))

    def _refuse(self, code: str, text: str, request_id: int | None = None) -> None:
        """Say why, then hang up: the client is not (yet) one of ours."""
        self._error(request_id, code, text)
        self.refused = True


def _too_large() -> str:
    return f"message over {protocol.MAX_MESSAGE_BYTES} bytes; skipped"


class Server:
    def __init__(self, data_dir: Path, config: Config, background: bool = False) -> None:
        self.data_dir = data_dir
        self.config = config
        # Started by `dowse search` (background): leave once idle (engine.serve.idle_exit).
        self.idle = IdleClock(config.serve.background_idle_exit_seconds if background else 0)
        self.token = secrets.token_hex(32)
        self.socket_path = socket_path(data_dir)
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._rebuild_lock = threading.Lock()
        self.service = EngineService(data_dir, config, self.publish)

    # -- connections ------------------------------------------------------------------------

    def publish(self, event: protocol.Message) -> None:
        with self._lock:
            subscribers = [c for c in self._connections if c.subscribed]
        for connection in subscribers:
            connection.send(event)

    def forget(self, connection: Connection) -> None:
        with self._lock:
            self._connections.discard(connection)
        self.idle.touch()

    def handle(self, connection: Connection, message: protocol.Message) -> protocol.Message:
        self.idle.touch()
        service = self.service
        rid = message.id
        if isinstance(message, protocol.Search):
            response = service.search(message)
            return protocol.SearchResults(id=rid, response=response_dict(response))
        if isinstance(message, protocol.Status):
            return protocol.StatusReport(id=rid, status=service.status())
        if isinstance(message, protocol.ListErrors):
            return protocol.ErrorList(id=rid, errors=tuple(service.errors(message.limit)))
        if isinstance(message, protocol.Pin):
            return protocol.Done(id=rid, detail=_wait(service.pin(message.path)))
        if isinstance(message, protocol.Unpin):
            return protocol.Done(id=rid, detail=_wait(service.unpin(message.path)))
        if isinstance(message, protocol.Forget):
            return protocol.Done(id=rid, detail=_wait(service.forget(message.paths)))
        if isinstance(message, protocol.Reindex):
            return protocol.Done(id=rid, detail=_wait(service.reindex(message.path)))
        if isinstance(message, protocol.Pause | protocol.Resume):
            service.set_paused(isinstance(message, protocol.Pause), message.path)
            return protocol.Done(id=rid, detail=message.TYPE + "d")
        if isinstance(message, protocol.GetText):  # a long text: a window around the passage
            return text_reply(message, service.file_text(message.path))
        if isinstance(message, protocol.Subscribe):
            connection.subscribed = True
            return protocol.Done(id=rid, detail="subscribed")
        if isinstance(message, protocol.Shutdown):
            self._stop.set()
            return protocol.Done(id=rid, detail="shutting down")
        if isinstance(message, protocol.Rebuild):
            return protocol.Done(id=rid, detail=self.rebuild())
        return service.reply(message)  # similar and get_page; ValueError for anything else

    # -- running ----------------------------------------------------------------------------

    def serve(self, ready: threading.Event | None = None) -> None:
        """Listen until a shutdown request or SIGTERM/SIGINT; then stop cleanly."""
        listener = _listen(self.socket_path)
        try:
            write_private(self.data_dir / TOKEN_FILE, self.token)
            info: dict[str, Any] = {
                "pid": os.getpid(), "socket": str(self.socket_path), "version": __version__,
                "protocol": protocol.PROTOCOL_VERSION, "started": time.time(),
            }
            write_private(self.data_dir / INFO_FILE, json.dumps(info))
            self.service.start()
            # What start-up made lives as long as the engine: frozen, the collector's full
            # passes (every 70,000 or so objects a search makes) no longer walk it. They
            # were the slowest keyword answers' last milliseconds (p95 at 1M: 45.9 and 50.5
            # ms in process against 38.7 and 36.8 frozen).
            gc.collect()
            gc.freeze()
            log.info("engine listening on %s", self.socket_path)
            if ready is not None:
                ready.set()
            number = 0
            while not self._stop.is_set():
                try:
                    sock, _ = listener.accept()
                except TimeoutError:
                    if self.idle.expired(len(self._connections), self.service.worker.activity):
                        break
                    continue
                number += 1
                connection = Connection(self, sock, number)
                with self._lock:
                    self._connections.add(connection)
                connection.start()
        finally:
            listener.close()
            with contextlib.suppress(OSError):
                self.socket_path.unlink()
            with self._lock:
                connections = list(self._connections)
            for connection in connections:
                connection.close()
            self.service.stop()
            for name in (INFO_FILE, TOKEN_FILE):
                with contextlib.suppress(OSError):
                    (self.data_dir / name).unlink()

    def stop(self) -> None:
        self._stop.set()

    def rebuild(self) -> str:
        """Set a damaged database aside, then serve from a new service on a fresh one."""
        with self._rebuild_lock:
            self.service, detail = rebuilt_service(self.service)
        return detail


def _wait(future: Future[str]) -> str:
    return future.result(timeout=COMMAND_TIMEOUT)


def _listen(path: Path) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a socket left by an engine that died; the lock says none runs now
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # created 0600, with no moment when others could connect
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    listener.listen(16)
    listener.settimeout(0.5)
    return listener


def run_serve(data_dir: Path, background: bool = False) -> None:
    """`dowse serve [--background]`; EngineAlreadyRunningError if another engine has the dir."""
    ensure_data_dir(data_dir)
    lock = EngineLock(data_dir)
    try:
        server = Server(data_dir, load_config(data_dir), background)

        def on_signal(signum: int, frame: object) -> None:
            server.stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        server.serve()
    finally:
        lock.release()
