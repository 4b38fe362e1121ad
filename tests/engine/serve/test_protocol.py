"""The protocol's messages survive a round trip, and every bad line becomes a ProtocolError."""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest

from engine.serve import protocol
from engine.serve.protocol import ProtocolError, decode, encode


def _example(cls: type[protocol.Message]) -> protocol.Message:
    values: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        if f.name == "id" or f.default is not dataclasses.MISSING:
            continue
        hint = typing.get_type_hints(cls)[f.name]
        samples = {str: "x é 東", int: 7, float: 1.5, bool: True}
        if hint in samples:
            values[f.name] = samples[hint]
        elif typing.get_origin(hint) is dict:
            values[f.name] = {"nested": [1, 2, {"a": None}]}
        elif typing.get_origin(hint) is tuple and typing.get_args(hint)[0] is str:
            values[f.name] = ("/a", "/b é")
        elif typing.get_origin(hint) is tuple:
            values[f.name] = ({"path": "/a", "state": "failed", "reason": "r"},)
        else:
            values[f.name] = None
    return cls(id=3, **values)


@pytest.mark.parametrize("cls", list(protocol.MESSAGE_TYPES.values()), ids=lambda c: c.TYPE)
def test_every_message_round_trips(cls: type[protocol.Message]) -> None:
    message = _example(cls)
    line = encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    body = json.loads(line)
    assert body["v"] == protocol.PROTOCOL_VERSION and body["type"] == cls.TYPE and body["id"] == 3
    assert decode(line) == message


def test_lists_become_tuples_and_defaults_fill_in() -> None:
    line = json.dumps({"v": 1, "type": "search", "id": 1, "query": "q", "types": ["pdf"]})
    assert decode(line) == protocol.Search(id=1, query="q", types=("pdf",))
    line = json.dumps({"v": 1, "type": "forget", "id": 2, "paths": ["/a", "/b"]})
    assert decode(line) == protocol.Forget(id=2, paths=("/a", "/b"))
    with pytest.raises(ProtocolError, match="forget.paths"):
        decode(json.dumps({"v": 1, "type": "forget", "id": 2, "paths": "/a"}))


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"{not json", "bad_json"),
        (b"[1, 2]", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b'{"v": 1, "type": "nope", "id": 1}', "unknown_type"),
        (b'{"v": 1, "id": 1}', "unknown_type"),
        (b'{"v": 2, "type": "status", "id": 1}', "version"),
        (b'{"type": "status", "id": 1}', "version"),
        (b'{"v": 1, "type": "search", "id": 1}', "bad_message"),
        (b'{"v": 1, "type": "search", "id": 1, "query": 5}', "bad_message"),
        (b'{"v": 1, "type": "search", "id": 1, "query": "q", "k": true}', "bad_message"),
        (b'{"v": 1, "type": "search", "id": 1, "query": "q", "k": 1.5}', "bad_message"),
        (b'{"v": 1, "type": "search", "id": 1, "query": "q", "types": "pdf"}', "bad_message"),
        (b'{"v": 1, "type": "search", "id": 1, "query": "q", "extra": 1}', "bad_message"),
        (b'{"v": 1, "type": "status", "id": "1"}', "bad_message"),
    ],
)
def test_bad_lines_are_protocol_errors(line: bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(line)
    assert caught.value.code == code


def test_errors_keep_the_request_id_when_there_is_one() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(b'{"v": 1, "type": "nope", "id": 42}')
    assert caught.value.request_id == 42


def test_a_wrong_version_is_refused_in_words() -> None:
    with pytest.raises(ProtocolError, match="version 2 is not supported.*speaks version 1"):
        decode(b'{"v": 2, "type": "status", "id": 1}')


def test_an_oversized_line_is_refused_before_parsing() -> None:
    huge = b'{"v": 1, "type": "search", "query": "' + b"a" * protocol.MAX_MESSAGE_BYTES + b'"}'
    with pytest.raises(ProtocolError) as caught:
        decode(huge)
    assert caught.value.code == "too_large"


def test_a_path_that_is_not_utf8_travels_losslessly_as_ascii_json() -> None:
    import os

    from engine.serve.display import display_path
    from engine.serve.protocol import FileFailed

    path = os.fsdecode(b"/home/ada/caf\xe9\n\x1b[31m.txt")
    line = encode(FileFailed(path=path, reason="corrupt PDF"))
    assert line.isascii() and line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode(line) == FileFailed(path=path, reason="corrupt PDF")
    assert display_path(path) == "/home/ada/caf\ufffd\ufffd\ufffd[31m.txt"
    assert display_path(path, keep_controls=True) == "/home/ada/caf\ufffd\n\x1b[31m.txt"
    assert display_path("/plain/é.txt") == "/plain/é.txt"


def test_ocr_progress_fields_stay_out_of_the_line_until_pages_wait() -> None:
    """Added after version 1: a Progress without scanned pages reads as it always did."""
    quiet = protocol.Progress(queued=1, done=2, failed=0, bytes=3, rate=1.0, eta_seconds=None,
                              current="a.txt")
    assert not [k for k in json.loads(encode(quiet)) if k.startswith("ocr_")]
    busy = dataclasses.replace(quiet, ocr_pages_done=40, ocr_pages_total=300, ocr_rate=1.5,
                               ocr_eta_seconds=173.3)
    line = json.loads(encode(busy))
    assert {k: v for k, v in line.items() if k.startswith("ocr_")} == {
        "ocr_pages_done": 40, "ocr_pages_total": 300, "ocr_rate": 1.5, "ocr_eta_seconds": 173.3}
    assert decode(encode(busy)) == busy


def test_open_member_is_a_request_and_member_file_its_reply() -> None:
    entry = "/home/a/bundle.zip › logs/log.pdf"
    asked = decode(encode(protocol.OpenMember(id=4, path=entry)))
    assert asked == protocol.OpenMember(id=4, path=entry)
    assert "open_member" in protocol.REQUEST_TYPES and "member_file" not in protocol.REQUEST_TYPES
    reply = protocol.MemberFile(id=4, path=entry, file="/data/opened/member-x/log.pdf")
    assert decode(encode(reply)) == reply


def test_the_desktop_names_members_as_the_engine_does() -> None:
    from desktop.member_opener import MEMBER_SEPARATOR
    from engine.extract.members import SEPARATOR

    assert MEMBER_SEPARATOR == SEPARATOR
