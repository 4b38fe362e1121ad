"""What the engine link tells the GUI: its Qt signals, and which engine reply or event becomes
which of them."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from desktop.signals import emit_signal
from engine.serve import protocol

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RenderedPage:
    """A page the engine drew (`page_received`), decoded: the image and, as fractions of the
    page (x0, y0, x1, y1), the regions the asked-for passage covers."""

    path: str
    page: int
    image: QImage
    regions: tuple[tuple[float, float, float, float], ...]


@dataclasses.dataclass(frozen=True)
class PreviewText:
    """A file's indexed text as the engine sent it (`text_received`): all of it, or for a long
    file the part from `offset` on (a window around the asked-for passage), so the offsets
    results use index it at `offset`; `length` is the whole text's, when this is a part."""

    path: str
    text: str
    offset: int = 0
    length: int | None = None


class EngineSignals(QObject):
    """The signals `EngineLink` emits, as past-tense facts; widgets connect to these."""

    # dict and list payloads are declared `object`: PySide6 6.12's Signal(dict)/Signal(list)
    # conversion drops a reference to every None inside (see _emit). Slots get the same dict.
    # A path is `object` too: a Signal(str) drops the surrogate escapes of a name that is not
    # UTF-8 (results_model.py), so the slot would get another file's path.
    connected = Signal(object)  # dict {"engine_version", "pid"}, after welcome
    engine_failed = Signal(str)  # could not start or reach the engine, or the link dropped
    engine_stopped = Signal()  # the link closed after shutdown_engine(); it will not heal
    results_received = Signal(int, object)  # (request id, the search_results.response dict)
    status_received = Signal(object)  # dict, as `dowse status --json` prints it
    errors_received = Signal(object)  # list of {"path", "state", "reason"}
    text_received = Signal(int, object)  # (request id, PreviewText)
    similar_received = Signal(int, object)  # (request id, a search-shaped response dict)
    page_received = Signal(int, object)  # (request id, RenderedPage)
    member_unpacked = Signal(int, object, object)  # (request id, entry, its private copy)
    request_completed = Signal(int, str)  # (request id, done.detail): pin, pause, reindex...
    folder_forgotten = Signal(str)  # the engine's account of what a forget removed
    request_failed = Signal(int, str, str)  # (request id, code, message)
    model_loading = Signal(str)
    model_ready = Signal(str, str, str)  # model, device, precision
    index_progressed = Signal(object)  # dict: the progress event's fields
    file_indexed = Signal(object, int, int)  # path, passages, embedded
    file_failed = Signal(object, str)  # path, reason
    folder_changed = Signal(object)  # dict {"path", "state", "watch"}

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._similar_ids: set[int] = set()  # "more like this" requests: their answers differ
        self._forget_ids: set[int] = set()  # forget requests: their answers are reported

    def _take_reply(self, request_id: int, message: protocol.Message) -> None:
        similar = request_id in self._similar_ids
        self._similar_ids.discard(request_id)
        if isinstance(message, protocol.SearchResults) and similar:
            emit_signal(self.similar_received, request_id, message.response)
        elif isinstance(message, protocol.SearchResults):
            emit_signal(self.results_received, request_id, message.response)
        elif isinstance(message, protocol.PageImage):
            self._take_page(request_id, message)
        elif isinstance(message, protocol.MemberFile):
            emit_signal(self.member_unpacked, request_id, message.path, message.file)
        elif isinstance(message, protocol.StatusReport):
            emit_signal(self.status_received, message.status)
        elif isinstance(message, protocol.ErrorList):
            emit_signal(self.errors_received, [dict(error) for error in message.errors])
        elif isinstance(message, protocol.FileText):
            emit_signal(self.text_received, request_id, PreviewText(
                message.path, message.text, message.offset, message.length))
        elif isinstance(message, protocol.Done):
            if request_id in self._forget_ids:
                self._forget_ids.discard(request_id)
                emit_signal(self.folder_forgotten, message.detail)
            emit_signal(self.request_completed, request_id, message.detail)
        elif isinstance(message, protocol.Error):
            emit_signal(self.request_failed, request_id, message.code, message.message)
        else:
            problem = f"unexpected {message.TYPE} reply from the engine"
            emit_signal(self.request_failed, request_id, "bad_message", problem)

    def _take_page(self, request_id: int, message: protocol.PageImage) -> None:
        image = QImage()
        try:
            image.loadFromData(base64.b64decode(message.png, validate=True), "PNG")
        except (binascii.Error, ValueError):
            pass
        if image.isNull():
            problem = f"the engine sent a page of {message.path} that is not a PNG image"
            emit_signal(self.request_failed, request_id, "bad_message", problem)
            return
        regions = tuple((r[0], r[1], r[2], r[3]) for r in message.regions if len(r) == 4)
        emit_signal(self.page_received, request_id,
                    RenderedPage(message.path, message.page, image, regions))

    def _take_event(self, message: protocol.Message) -> None:
        if isinstance(message, protocol.Progress):
            fields = dataclasses.asdict(message)
            del fields["id"]
            emit_signal(self.index_progressed, fields)
        elif isinstance(message, protocol.FileIndexed):
            emit_signal(self.file_indexed, message.path, message.passages, message.embedded)
        elif isinstance(message, protocol.FileFailed):
            emit_signal(self.file_failed, message.path, message.reason)
        elif isinstance(message, protocol.FolderState):
            row = {"path": message.path, "state": message.state, "watch": message.watch}
            emit_signal(self.folder_changed, row)
        elif isinstance(message, protocol.ModelLoading):
            emit_signal(self.model_loading, message.model)
        elif isinstance(message, protocol.ModelReady):
            emit_signal(self.model_ready, message.model, message.device, message.precision)
        elif isinstance(message, protocol.Error):
            log.warning("engine link: the engine reports %s: %s", message.code, message.message)

