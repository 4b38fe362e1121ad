"""A real engine meets bad clients: each gets an error, and the engine keeps serving the rest."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.serve import protocol
from engine.serve.client import EngineClient
from tests.helpers.engine_process import running_engine

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EngineClient, Path]]:
    data = tmp_path_factory.mktemp("data")
    with running_engine(data) as (_process, client, _runtime):
        yield client, data


class RawClient:
    """A socket speaking (or failing to speak) the protocol by hand."""

    def __init__(self, data: Path) -> None:
        info = json.loads((data / "engine.json").read_text())
        self.token = (data / "engine.token").read_text().strip()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(info["socket"])
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_json(self, body: dict[str, Any]) -> None:
        self.send(json.dumps(body).encode() + b"\n")

    def hello(self) -> dict[str, Any]:
        self.send_json({"v": 1, "type": "hello", "id": 1, "token": self.token})
        return self.receive()

    def receive(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def is_closed(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except (ConnectionError, TimeoutError):
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def connect_raw(engine: tuple[EngineClient, Path]) -> Iterator[type[RawClient]]:
    opened: list[RawClient] = []

    class Tracked(RawClient):
        def __init__(self, data: Path) -> None:
            super().__init__(data)
            opened.append(self)

    yield Tracked
    for raw in opened:
        raw.close()


Served = tuple[EngineClient, Path]
Raw = type[RawClient]


def _still_serves(client: EngineClient) -> None:
    assert client.status()["engine"]["state"] == "running"


def test_socket_and_token_are_private(engine: Served) -> None:
    _, data = engine
    info = json.loads((data / "engine.json").read_text())
    assert stat.S_IMODE(os.stat(info["socket"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data / "engine.token").st_mode) == 0o600
    assert stat.S_ISSOCK(os.stat(info["socket"]).st_mode)


def test_a_missing_token_is_refused(engine: Served, connect_raw: Raw) -> None:
    client, data = engine
    raw = connect_raw(data)
    raw.send_json({"v": 1, "type": "status", "id": 5})
    reply = raw.receive()
    assert reply["type"] == "error" and reply["code"] == "auth"
    assert raw.is_closed()
    _still_serves(client)


def test_a_wrong_token_is_refused(engine: Served, connect_raw: Raw) -> None:
    client, data = engine
    raw = connect_raw(data)
    raw.send_json({"v": 1, "type": "hello", "id": 1, "token": "0" * 64})
    assert raw.receive()["code"] == "auth"
    assert raw.is_closed()
    _still_serves(client)


def test_a_wrong_version_gets_a_clear_refusal(engine: Served, connect_raw: Raw) -> None:
    client, data = engine
    raw = connect_raw(data)
    raw.send_json({"v": 99, "type": "hello", "id": 1, "token": raw.token})
    reply = raw.receive()
    assert reply["code"] == "version" and "99" in reply["message"]
    assert raw.is_closed()
    _still_serves(client)


def test_bad_messages_get_errors_and_the_connection_stays_up(
    engine: Served, connect_raw: Raw,
) -> None:
    client, data = engine
    raw = connect_raw(data)
    assert raw.hello()["type"] == "welcome"
    raw.send(b"{this is not json\n")
    assert raw.receive()["code"] == "bad_json"
    raw.send_json({"v": 1, "type": "teleport", "id": 7})
    reply = raw.receive()
    assert (reply["code"], reply["id"]) == ("unknown_type", 7)
    raw.send_json({"v": 1, "type": "search", "id": 8, "query": 42})
    assert raw.receive()["code"] == "bad_message"
    raw.send_json({"v": 1, "type": "welcome", "id": 9, "engine_version": "x", "pid": 1})
    assert raw.receive()["code"] == "unknown_type"  # a reply type is not a request
    raw.send_json({"v": 1, "type": "search", "id": 10, "query": "x", "mode": "psychic"})
    assert raw.receive()["code"] == "failed"
    raw.send_json({"v": 1, "type": "status", "id": 11})
    reply = raw.receive()
    assert (reply["type"], reply["id"]) == ("status_report", 11)
    raw.close()
    _still_serves(client)


def test_a_huge_message_is_refused_and_skipped(engine: Served, connect_raw: Raw) -> None:
    client, data = engine
    raw = connect_raw(data)
    raw.hello()
    body = b'{"v": 1, "type": "search", "id": 3, "query": "' + b"a" * (3 << 20) + b'"}\n'
    raw.send(body)
    assert raw.receive()["code"] == "too_large"
    raw.send_json({"v": 1, "type": "status", "id": 4})
    assert raw.receive()["id"] == 4  # the rest of the huge line was skipped, not parsed
    raw.close()
    _still_serves(client)


def test_slow_and_silent_clients_do_not_block_others(engine: Served, connect_raw: Raw) -> None:
    client, data = engine
    trickle = connect_raw(data)
    trickle.hello()
    trickle.send(b'{"v": 1, "type": "sta')  # half a message, and then nothing for a while
    mute = connect_raw(data)  # connects and never says hello
    started = time.monotonic()
    for _ in range(5):
        _still_serves(client)
    assert time.monotonic() - started < 5
    trickle.send(b'tus", "id": 2}\n')
    assert trickle.receive()["type"] == "status_report"
    mute.close()
    trickle.close()


def test_events_reach_subscribers(engine: Served, tmp_path: Path) -> None:
    client, data = engine
    watcher = EngineClient.connect(data, client="subscriber")
    try:
        watcher.subscribe()
        (tmp_path / "a.txt").write_text("Hedgehogs hibernate through the winter months.")
        client.pin(str(tmp_path))
        seen: set[str] = set()
        deadline = time.monotonic() + 60
        while "file_indexed" not in seen and time.monotonic() < deadline:
            event = watcher.next_event(timeout=1.0)
            if event is not None:
                seen.add(event.TYPE)
        assert {"folder_state", "file_indexed"} <= seen
        assert isinstance(protocol.decode(protocol.encode(protocol.Status())), protocol.Status)
        client.unpin(str(tmp_path))
    finally:
        watcher.close()
