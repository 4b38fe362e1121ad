"""get_text for a long file: the engine's reply stays within one protocol message, as a window
around the asked-for passage in the offsets results use, instead of a line the client drops."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from engine.config import ensure_data_dir, load_config
from engine.serve import protocol
from engine.serve.server import Server
from engine.serve.text_window import text_reply
from engine.store import ChunkRow, Store

LINE = "Line {:06d} of the long log: the quick brown fox jumps over the lazy dog again.\n"
LONG = "".join(LINE.format(n) for n in range(38_000))  # 3.1 MB
PASSAGE = 2_600_000  # where the asked-for passage starts: near the end


def _chunks(text: str, size: int = 600) -> list[ChunkRow]:
    return [ChunkRow(n, start, min(start + size, len(text)), None, None,
                     text[start : start + size])
            for n, start in enumerate(range(0, len(text), size))]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("text") / "data"
    ensure_data_dir(data_dir)
    store = Store.open_in(data_dir)
    folder = store.pin_folder("/docs")
    for path, text in (("/docs/long.log", LONG), ("/docs/short.txt", "A short note.")):
        store.record_file(folder_id=folder, path=path, size=len(text), mtime=1.0, hash=path,
                          kind="text", state="indexed", chunks=_chunks(text))
    store.close()
    server = Server(data_dir, load_config(data_dir))  # not started: handle() alone
    yield server
    server.service.stop()


def _sent(reply: protocol.Message) -> protocol.FileText:
    """The reply as a client reads it off the socket: the line must decode, within the limit."""
    line = protocol.encode(reply)
    assert len(line) - 1 <= protocol.MAX_MESSAGE_BYTES
    got = protocol.decode(line[:-1])
    assert isinstance(got, protocol.FileText)
    return got


def test_a_3_mb_text_comes_as_a_window_around_the_passage(server: Server) -> None:
    start, end = PASSAGE, PASSAGE + 500
    got = _sent(server.handle(None, protocol.GetText(  # type: ignore[arg-type]
        id=7, path="/docs/long.log", start=start, end=end)))
    assert got.id == 7 and got.path == "/docs/long.log" and not got.complete
    assert got.length == len(LONG)
    assert got.offset <= start and end <= got.offset + len(got.text)
    assert got.text == LONG[got.offset : got.offset + len(got.text)]  # the offsets still hold
    assert got.text[start - got.offset : end - got.offset] == LONG[start:end]
    assert len(got.text) > 900_000  # as much as fits, not a crumb
    assert got.offset == 0 or LONG[got.offset - 1] == "\n"  # it starts at a line


def test_without_a_passage_the_window_is_the_top(server: Server) -> None:
    got = _sent(server.handle(None, protocol.GetText(  # type: ignore[arg-type]
        id=8, path="/docs/long.log")))
    assert got.offset == 0 and LONG.startswith(got.text) and got.length == len(LONG)


def test_a_passage_at_the_very_end_is_in_its_window(server: Server) -> None:
    got = _sent(server.handle(None, protocol.GetText(  # type: ignore[arg-type]
        id=9, path="/docs/long.log", start=len(LONG) - 80, end=len(LONG) + 5)))
    assert got.offset + len(got.text) == len(LONG)


def test_a_short_text_comes_whole_in_the_line_version_1_had(server: Server) -> None:
    reply = server.handle(None, protocol.GetText(  # type: ignore[arg-type]
        id=10, path="/docs/short.txt", start=0, end=5))
    assert _sent(reply) == protocol.FileText(id=10, path="/docs/short.txt",
                                             text="A short note.", complete=False)
    # No new field in the line, so a client that refuses unknown fields still reads it.
    assert set(json.loads(protocol.encode(reply))) == {"v", "type", "id", "path", "text",
                                                       "complete"}
    with pytest.raises(ValueError, match="nothing indexed"):
        server.handle(None, protocol.GetText(id=11, path="/docs/none.txt"))  # type: ignore[arg-type]


def test_wide_text_under_a_name_that_is_not_utf8_still_fits() -> None:
    # A path that is not UTF-8 makes the whole line ASCII JSON: six bytes a character here.
    path = os.fsdecode(b"/docs/caf\xe9.txt")
    text = "\u65e5\u672c\u8a9e\u00e9" * 300_000
    got = _sent(text_reply(protocol.GetText(id=1, path=path, start=600_000, end=600_040),
                           text))
    assert got.path == path
    assert got.offset <= 600_000 and 600_040 <= got.offset + len(got.text)
    assert got.text == text[got.offset : got.offset + len(got.text)]
    assert len(got.text) > 150_000


def test_a_request_without_a_window_reads_as_before() -> None:
    line = protocol.encode(protocol.GetText(id=3, path="/a.txt"))
    assert json.loads(line) == {"v": 1, "type": "get_text", "id": 3, "path": "/a.txt"}
    assert protocol.decode(b'{"v":1,"type":"get_text","id":3,"path":"/a.txt","start":5,'
                           b'"end":9}') == protocol.GetText(id=3, path="/a.txt", start=5, end=9)


def test_the_store_rebuilds_the_long_text_it_windows(server: Server) -> None:
    assert server.service.file_text("/docs/long.log") == LONG

