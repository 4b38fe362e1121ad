"""The messages between the engine process and its clients: versioned JSON lines, stdlib only.

Every message is one line of JSON carrying `v` (the protocol version), `type` and `id`.
A client's first message is `hello` with the token from the data dir; requests carry an `id`
the reply repeats; events pushed to subscribers carry `id: null`. Decoding never raises
anything but ProtocolError, so a bad line becomes an error reply and the connection stays up.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from engine.serve.protocol_fields import added_field, coerce, field_hints, omitted

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 1 << 20  # a longer line is refused, and skipped up to its newline


class ProtocolError(Exception):
    """A message that cannot be accepted; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True)
class Message:
    TYPE: ClassVar[str] = ""
    id: int | None = field(default=None, kw_only=True)


# -- requests (client → engine) -------------------------------------------------------------


@dataclass(frozen=True)
class Hello(Message):
    TYPE: ClassVar[str] = "hello"
    token: str
    client: str = ""


@dataclass(frozen=True)
class Search(Message):
    TYPE: ClassVar[str] = "search"
    query: str
    mode: str | None = None
    k: int | None = None
    explain: bool = False
    folders: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    modified_after: float | None = None
    modified_before: float | None = None


@dataclass(frozen=True)
class Pin(Message):
    TYPE: ClassVar[str] = "pin"
    path: str


@dataclass(frozen=True)
class Unpin(Message):
    TYPE: ClassVar[str] = "unpin"
    path: str


@dataclass(frozen=True)
class Forget(Message):
    """Unpin the folders at or below `paths` and purge what they held; done says what went."""

    TYPE: ClassVar[str] = "forget"
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Pause(Message):
    """Stop indexing: everywhere, or in one pinned folder (watching goes on; work queues)."""

    TYPE: ClassVar[str] = "pause"
    path: str | None = None


@dataclass(frozen=True)
class Resume(Message):
    TYPE: ClassVar[str] = "resume"
    path: str | None = None


@dataclass(frozen=True)
class Status(Message):
    TYPE: ClassVar[str] = "status"


@dataclass(frozen=True)
class ListErrors(Message):
    TYPE: ClassVar[str] = "list_errors"
    limit: int = 100


@dataclass(frozen=True)
class Reindex(Message):
    """Index a file again now, or every file under a folder."""

    TYPE: ClassVar[str] = "reindex"
    path: str


@dataclass(frozen=True)
class GetText(Message):
    """The indexed text of one file, for a preview, in the coordinates results use; a text too
    long for one reply comes as a window around [start, end) (FileText.offset)."""

    TYPE: ClassVar[str] = "get_text"
    path: str
    start: int | None = added_field(None)  # the passage to be shown, in results' offsets
    end: int | None = added_field(None)


@dataclass(frozen=True)
class Similar(Message):
    """"More like this": passages near one indexed passage's stored vector; replies as search."""

    TYPE: ClassVar[str] = "similar"
    path: str
    page: int | None = None  # the passage on this page (PDF) ...
    start: int | None = None  # ... or the one holding this character offset; else the first
    k: int | None = None


@dataclass(frozen=True)
class GetPage(Message):
    """One page of a document drawn as an image, with the regions of the given passage."""

    TYPE: ClassVar[str] = "get_page"
    path: str
    page: int  # 1-based, as results report it
    start: int | None = None  # the passage to mark, in the offsets results use
    end: int | None = None
    width: int = 800  # pixels


@dataclass(frozen=True)
class OpenMember(Message):
    """A document inside an archive (`a.zip › b.pdf`), unpacked for a viewer into a private
    folder of the engine's (never beside the archive); the reply, member_file, names the copy.
    Added after version 1: an older engine answers unknown_type."""

    TYPE: ClassVar[str] = "open_member"
    path: str


@dataclass(frozen=True)
class Subscribe(Message):
    """From now on, push events to this connection."""

    TYPE: ClassVar[str] = "subscribe"


@dataclass(frozen=True)
class Shutdown(Message):
    TYPE: ClassVar[str] = "shutdown"


@dataclass(frozen=True)
class Rebuild(Message):
    """Set a damaged index aside (errors say `database_corrupt`); start afresh, same folders."""

    TYPE: ClassVar[str] = "rebuild"


# -- replies (engine → client, `id` copied from the request) ------------------------------


@dataclass(frozen=True)
class Welcome(Message):
    TYPE: ClassVar[str] = "welcome"
    engine_version: str
    pid: int
    protocol: int = PROTOCOL_VERSION


@dataclass(frozen=True)
class SearchResults(Message):
    TYPE: ClassVar[str] = "search_results"
    response: dict[str, Any]  # the same object `dowse search --json` prints (with not_ready:
    # ["semantic"] when a hybrid or semantic search was answered by keywords alone)


@dataclass(frozen=True)
class StatusReport(Message):
    TYPE: ClassVar[str] = "status_report"
    status: dict[str, Any]  # the same object `dowse status --json` prints


@dataclass(frozen=True)
class ErrorList(Message):
    TYPE: ClassVar[str] = "error_list"
    errors: tuple[dict[str, Any], ...]  # {"path", "state", "reason"}


@dataclass(frozen=True)
class FileText(Message):
    TYPE: ClassVar[str] = "file_text"
    path: str
    text: str  # offsets in results index into this text, less `offset`
    complete: bool  # False when only the indexed passages were kept (gaps are blank)
    offset: int = added_field(0)  # where `text` starts: a window of a text over one message
    length: int | None = added_field(None)  # the whole text's length, when `text` is a window


@dataclass(frozen=True)
class PageImage(Message):
    TYPE: ClassVar[str] = "page_image"
    path: str
    page: int
    png: str  # base64 of the PNG
    width: int
    height: int
    regions: tuple[tuple[float, float, float, float], ...] = ()  # x0, y0, x1, y1 in 0..1


@dataclass(frozen=True)
class MemberFile(Message):
    TYPE: ClassVar[str] = "member_file"
    path: str  # the entry, as asked
    file: str  # the private copy to open; removed when the engine next starts


@dataclass(frozen=True)
class Done(Message):
    """A request that returns nothing was carried out; `detail` says what happened."""

    TYPE: ClassVar[str] = "done"
    detail: str = ""


@dataclass(frozen=True)
class Error(Message):
    TYPE: ClassVar[str] = "error"
    code: str  # bad_json | bad_message | unknown_type | version | auth | too_large | failed
    message: str


# -- events (engine → subscribers, id null) -----------------------------------------------


@dataclass(frozen=True)
class ModelLoading(Message):
    TYPE: ClassVar[str] = "model_loading"
    model: str


@dataclass(frozen=True)
class ModelReady(Message):
    TYPE: ClassVar[str] = "model_ready"
    model: str
    device: str
    precision: str


@dataclass(frozen=True)
class Progress(Message):
    TYPE: ClassVar[str] = "progress"
    queued: int
    done: int
    failed: int
    bytes: int
    rate: float  # files a second over the current run
    eta_seconds: float | None
    current: str
    # "reading scanned pages: 40 of 300": OCR's own line, with its rate and ETA (added fields).
    ocr_pages_done: int = added_field(0)
    ocr_pages_total: int = added_field(0)  # 0: no scanned page waits
    ocr_rate: float = added_field(0.0)  # pages a second, over this engine's OCR runs
    ocr_eta_seconds: float | None = added_field(None)
    # "findable by words: 1,062 of 1,062 files · by meaning: 41%": the meaning phase, whose
    # passages get their vectors after their files are findable by words (added fields).
    embedded: int = added_field(0)  # passages with a vector, in the whole index
    passages: int = added_field(0)  # all passages in the index
    meaning_rate: float = added_field(0.0)  # passages a second embedded by this engine
    meaning_eta_seconds: float | None = added_field(None)


@dataclass(frozen=True)
class FileIndexed(Message):
    TYPE: ClassVar[str] = "file_indexed"
    path: str
    passages: int
    embedded: int  # passages that went through the encoder; the rest reused stored vectors


@dataclass(frozen=True)
class FileFailed(Message):
    TYPE: ClassVar[str] = "file_failed"
    path: str
    reason: str


@dataclass(frozen=True)
class FolderState(Message):
    TYPE: ClassVar[str] = "folder_state"
    path: str
    state: str  # scanning | indexing | idle | paused | missing | unpinned
    watch: str  # live | polling | none


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Hello, Search, Pin, Unpin, Forget, Pause, Resume, Status, ListErrors, Reindex, GetText,
        Similar, GetPage, OpenMember, Subscribe, Shutdown, Rebuild, Welcome, SearchResults,
        StatusReport, ErrorList, FileText, PageImage, MemberFile, Done, Error, ModelLoading,
        ModelReady, Progress, FileIndexed, FileFailed, FolderState,
    )
}
REQUEST_TYPES = frozenset(
    cls.TYPE
    for cls in (
        Hello, Search, Pin, Unpin, Forget, Pause, Resume, Status, ListErrors, Reindex, GetText,
        Similar, GetPage, OpenMember, Subscribe, Shutdown, Rebuild,
    )
)


def encode(message: Message) -> bytes:
    body: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": message.TYPE}
    for f in dataclasses.fields(message):
        if not omitted(f, value := getattr(message, f.name)):
            body[f.name] = value
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    except UnicodeEncodeError:
        # A path that is not UTF-8 travels surrogate-escaped ("\udcff"): still one line of
        # ASCII JSON, and json.loads gives back the very same str, so the path stays usable.
        return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes | str) -> Message:
    """Parse one line; ProtocolError says what is wrong, with the request id when known."""
    if len(line) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"message over {MAX_MESSAGE_BYTES} bytes")
    try:
        raw = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("bad_json", f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ProtocolError("bad_json", "a message must be a JSON object")
    request_id = raw.get("id")
    if not (request_id is None or (type(request_id) is int)):
        raise ProtocolError("bad_message", "id must be an integer or null")
    version = raw.get("v")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            "version",
            f"protocol version {version!r} is not supported; this engine speaks "
            f"version {PROTOCOL_VERSION}. Update the client or the engine so they match.",
            request_id,
        )
    kind = raw.get("type")
    cls = MESSAGE_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError("unknown_type", f"unknown message type {kind!r}", request_id)
    hints = field_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ProtocolError("bad_message", f"{kind}: missing {f.name!r}", request_id)
            continue
        try:
            values[f.name] = coerce(raw[f.name], hints[f.name])
        except TypeError as exc:
            raise ProtocolError("bad_message", f"{kind}.{f.name}: {exc}", request_id) from None
    unknown = set(raw) - {"v", "type"} - set(values) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ProtocolError(
            "bad_message", f"{kind}: unknown field(s) {sorted(unknown)}", request_id
        )
    return cls(**values)

