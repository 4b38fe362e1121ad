"""EngineLink against a fake engine on a real socket, and once against the real engine."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.engine_link import CLIENT_NAME, EngineLink
from desktop.engine_signals import PreviewText
from engine.serve import protocol
from engine.serve.runtime import INFO_FILE, engine_running
from tests.helpers.engine_process import stop_leftover_engine
from tests.helpers.fake_engine import FAKE_VERSION, FakeEngine, Recording

pytestmark = pytest.mark.gui

RECORDINGS = Path(__file__).parent / "recordings"
WAIT_MS = 5000


@pytest.fixture
def fake(data_dir: Path) -> Iterator[FakeEngine]:
    engine = FakeEngine(data_dir).start()
    yield engine
    engine.stop()


@pytest.fixture
def make_link(data_dir: Path) -> Iterator[Callable[..., EngineLink]]:
    links: list[EngineLink] = []

    def make(**options: Any) -> EngineLink:
        options.setdefault("spawn", False)
        link = EngineLink(data_dir, **options)
        links.append(link)
        return link

    yield make
    for link in links:
        link.close()


@pytest.fixture
def link(make_link: Callable[..., EngineLink], fake: FakeEngine, qtbot: Any) -> EngineLink:
    """A link already connected (and subscribed) to the fake engine."""
    engine_link = make_link()
    with qtbot.waitSignal(engine_link.connected, timeout=WAIT_MS):
        engine_link.start()
    qtbot.waitUntil(lambda: fake.subscribers == 1, timeout=WAIT_MS)
    return engine_link


@pytest.fixture(scope="module")
def recording() -> Recording:
    return Recording.load(RECORDINGS / "indexing_session.jsonl")


def test_connects_with_the_token_then_subscribes_and_polls_status(
    make_link: Callable[..., EngineLink], fake: FakeEngine, qtbot: Any
) -> None:
    link = make_link(status_interval_ms=50)
    fake.reply_status({"engine": {"activity": "indexing"}, "queue": 3})
    with qtbot.waitSignal(link.connected, timeout=WAIT_MS) as welcome:
        link.start()
    assert welcome.args == [{"engine_version": FAKE_VERSION, "pid": os.getpid()}]
    assert link.is_connected()
    hello = fake.requests[0]
    assert isinstance(hello, protocol.Hello)
    assert hello.token == fake.token and hello.client == CLIENT_NAME
    qtbot.waitUntil(lambda: fake.subscribers == 1, timeout=WAIT_MS)
    for _ in range(2):  # the first poll right after welcome, then the timer's
        with qtbot.waitSignal(link.status_received, timeout=WAIT_MS) as status:
            pass
        assert status.args == [{"engine": {"activity": "indexing"}, "queue": 3}]
    qtbot.waitUntil(lambda: len(fake.requests_of("status")) >= 3, timeout=WAIT_MS)


def test_start_returns_at_once_without_an_engine(
    make_link: Callable[..., EngineLink], data_dir: Path, qtbot: Any
) -> None:
    link = make_link()
    began = time.monotonic()
    link.start()
    assert time.monotonic() - began < 0.1
    with qtbot.waitSignal(link.engine_failed, timeout=WAIT_MS) as failed:
        pass
    assert failed.args == [f"no engine is running for {data_dir}"]
    engine = FakeEngine(data_dir).start()
    try:
        with qtbot.waitSignal(link.connected, timeout=WAIT_MS):
            pass
    finally:
        link.close()
        engine.stop()


def test_an_engine_that_does_not_answer_its_socket_is_retried_until_it_does(
    make_link: Callable[..., EngineLink], fake: FakeEngine, data_dir: Path, qtbot: Any
) -> None:
    info_path = data_dir / INFO_FILE
    info = info_path.read_text()
    missing = str(fake.socket_path.with_name("missing.sock"))
    info_path.write_text(info.replace(str(fake.socket_path), missing))
    link = make_link()
    with qtbot.waitSignal(link.engine_failed, timeout=WAIT_MS) as failed:
        link.start()
    assert failed.args[0].startswith("cannot reach the engine: ")
    with qtbot.waitSignal(link.connected, timeout=WAIT_MS):
        info_path.write_text(info)


def test_search_sends_every_filter_and_results_carry_the_request_id(
    link: EngineLink, fake: FakeEngine, qtbot: Any, recording: Recording
) -> None:
    (recorded, *_) = recording.engine_messages("search_results")
    assert isinstance(recorded, protocol.SearchResults)
    fake.reply_search(recorded.response)
    with qtbot.waitSignal(link.results_received, timeout=WAIT_MS) as results:
        request_id = link.search(
            "birds flying far", mode="semantic", k=5, explain=True, folders=("/notes",),
            types=("txt", "pdf"), modified_after=1.5, modified_before=2e9,
        )
    assert results.args == [request_id, recorded.response]
    assert link.latest_search_id == request_id
    (sent,) = fake.requests_of("search")
    assert sent == protocol.Search(
        id=request_id, query="birds flying far", mode="semantic", k=5, explain=True,
        folders=("/notes",), types=("txt", "pdf"), modified_after=1.5, modified_before=2e9,
    )
    assert results.args[1]["results"][0]["explanation"]["passage_spans"]


SIGNALS = ("status_received", "request_completed", "request_failed", "results_received",
           "errors_received", "text_received", "model_loading", "model_ready",
           "index_progressed", "file_indexed", "file_failed", "folder_changed")


def test_a_recorded_session_replays_into_the_same_signals(
    make_link: Callable[..., EngineLink], fake: FakeEngine, qtbot: Any, recording: Recording
) -> None:
    fake.replay(recording)
    link = make_link(status_interval_ms=0)
    seen: list[tuple[str, tuple[Any, ...]]] = []
    for name in SIGNALS:
        getattr(link, name).connect(lambda *args, name=name: seen.append((name, args)))
    with qtbot.waitSignal(link.connected, timeout=WAIT_MS):
        link.start()
    ids = {}  # the recorded request's id -> the link's id for the same request
    for request in recording.client_messages():
        link_id = _ask_like(link, request)
        if link_id is not None and request.id is not None:
            ids[request.id] = link_id
    expected = _expected_signals(recording, ids)
    qtbot.waitUntil(lambda: len(seen) >= len(expected), timeout=WAIT_MS)
    assert seen == expected

    # What the recording holds, so a new recording keeps covering it.
    idle = {"path": "/recorded/notes", "state": "idle", "watch": "live"}
    assert ("folder_changed", (idle,)) in seen
    assert ("file_indexed", ("/recorded/notes/tern.txt", 1, 1)) in seen
    (failed_file,) = [args for name, args in seen if name == "file_failed"]
    assert failed_file[0] == "/recorded/notes/broken.docx"
    assert any(name == "index_progressed" for name, _ in seen)
    (errors,) = [args[0] for name, args in seen if name == "errors_received"]
    assert [e["path"] for e in errors] == ["/recorded/notes/broken.docx"]
    first = [args[1] for name, args in seen if name == "results_received"][0]
    assert first["results"][0]["path"] == "/recorded/notes/tern.txt"
    assert first["results"][0]["explanation"]["passage_spans"]
    (refused,) = [args for name, args in seen if name == "request_failed"]
    assert refused[1] == "failed" and "unknown mode" in refused[2]
    (text,) = [args for name, args in seen if name == "text_received"]
    assert text[1].path == "/recorded/notes/tern.txt" and "Arctic terns" in text[1].text


def _ask_like(link: EngineLink, request: protocol.Message) -> int | None:
    """Make the link send what the recording's client sent; None for what the link does
    itself (hello, subscribe) or what would end the session (shutdown)."""
    if isinstance(request, protocol.Status):
        return link.request_status()
    if isinstance(request, protocol.Pin):
        return link.pin(request.path)
    if isinstance(request, protocol.ListErrors):
        return link.request_errors(request.limit)
    if isinstance(request, protocol.GetText):
        return link.request_text(request.path)
    if isinstance(request, protocol.Search):
        return link.search(request.query, mode=request.mode or "hybrid", k=request.k or 20,
                           explain=request.explain, folders=request.folders,
                           types=request.types)
    return None


def _expected_signals(recording: Recording, ids: dict[int, int]
                      ) -> list[tuple[str, tuple[Any, ...]]]:
    """The signals the link should emit for the engine's side of the recording: replies to
    the requests in `ids`, and the events the fake replays after each of those replies."""
    expected: list[tuple[str, tuple[Any, ...]]] = []
    replayed = False  # whether the reply these events follow is one the link asked for
    for message in recording.engine_messages():
        if message.id is not None:
            replayed = message.id in ids
            if not replayed:
                continue
            rid = ids[message.id]
            if isinstance(message, protocol.StatusReport):
                expected.append(("status_received", (message.status,)))
            elif isinstance(message, protocol.Done):
                expected.append(("request_completed", (rid, message.detail)))
            elif isinstance(message, protocol.Error):
                expected.append(("request_failed", (rid, message.code, message.message)))
            elif isinstance(message, protocol.SearchResults):
                expected.append(("results_received", (rid, message.response)))
            elif isinstance(message, protocol.ErrorList):
                expected.append(("errors_received", ([dict(e) for e in message.errors],)))
            elif isinstance(message, protocol.FileText):
                expected.append(("text_received", (rid, PreviewText(
                    message.path, message.text, message.offset, message.length))))
        elif replayed:
            expected.append(_event_signal(message))
    return expected


def _event_signal(event: protocol.Message) -> tuple[str, tuple[Any, ...]]:
    if isinstance(event, protocol.FolderState):
        return "folder_changed", ({"path": event.path, "state": event.state,
                                   "watch": event.watch},)
    if isinstance(event, protocol.FileIndexed):
        return "file_indexed", (event.path, event.passages, event.embedded)
    if isinstance(event, protocol.FileFailed):
        return "file_failed", (event.path, event.reason)
    if isinstance(event, protocol.ModelReady):
        return "model_ready", (event.model, event.device, event.precision)
    if isinstance(event, protocol.ModelLoading):
        return "model_loading", (event.model,)
    assert isinstance(event, protocol.Progress), event
    fields = {k: v for k, v in vars(event).items() if k != "id"}
    return "index_progressed", (fields,)


def test_model_loading_and_other_events_from_push(
    link: EngineLink, fake: FakeEngine, qtbot: Any
) -> None:
    with qtbot.waitSignal(link.model_loading, timeout=WAIT_MS) as loading:
        fake.push(protocol.ModelLoading(model="all-MiniLM-L6-v2"))
    assert loading.args == ["all-MiniLM-L6-v2"]
    with qtbot.waitSignal(link.index_progressed, timeout=WAIT_MS) as progress:
        fake.push(protocol.Progress(queued=4, done=1, failed=0, bytes=10, rate=2.0,
                                    eta_seconds=2.0, current="/a.txt"))
    sent = {"queued": 4, "done": 1, "failed": 0, "bytes": 10, "rate": 2.0,
            "eta_seconds": 2.0, "current": "/a.txt"}
    (fields,) = progress.args
    assert {k: fields[k] for k in sent} == sent
    # Fields added since (OCR's, the meaning phase's) arrive at their defaults.
    assert (fields["ocr_pages_total"], fields["embedded"], fields["passages"]) == (0, 0, 0)


def test_malformed_lines_are_skipped_and_the_link_stays_up(
    link: EngineLink, fake: FakeEngine, qtbot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="desktop.engine_link")
    fake.reply_search({"results": []}, delay=30.0)  # never answered within the test
    search_id = link.search("slow")
    qtbot.waitUntil(lambda: bool(fake.requests_of("search")), timeout=WAIT_MS)
    garbage = [
        b"not json at all",
        b"[1, 2, 3]",
        b'{"v": 2, "type": "progress", "id": null}',
        b'{"v": 1, "type": "no_such_type", "id": null}',
        b'{"v": 1, "type": "file_indexed", "id": null, "path": 3}',
        b"\xff\xfe binary",
        b'{"v": 1, "type": "search_results", "id": ' + str(search_id).encode() + b',',
    ]
    with qtbot.waitSignal(link.request_failed, timeout=WAIT_MS) as failed:
        fake.push_raw(b"\n".join(garbage) + b"\n\n")
        fake.push_raw(b'{"v": 1, "type": "search_results", "id": %d, "response": "nope"}\n'
                      % search_id)
    assert failed.args[:2] == [search_id, "bad_message"]
    with qtbot.waitSignal(link.file_indexed, timeout=WAIT_MS) as indexed:
        fake.push(protocol.FileIndexed(path="/ok.txt", passages=2, embedded=1))
    assert indexed.args == ["/ok.txt", 2, 1]
    assert link.is_connected()
    assert caplog.text.count("skipped a bad line") == len(garbage) + 1


def test_requests_before_connecting_are_sent_after_welcome_keeping_the_latest_search(
    make_link: Callable[..., EngineLink], fake: FakeEngine, qtbot: Any
) -> None:
    link = make_link()
    pin_id = link.pin("/notes")
    link.search("first")
    link.search("second")
    pause_id = link.pause()
    last_id = link.search("third")
    assert link.latest_search_id == last_id
    with qtbot.waitSignal(link.results_received, timeout=WAIT_MS) as results:
        link.start()
    assert results.args[0] == last_id
    qtbot.waitUntil(lambda: bool(fake.requests_of("pause")), timeout=WAIT_MS)
    sent = [(r.TYPE, r.id) for r in fake.requests if r.TYPE not in ("hello", "status")]
    assert sent[0][0] == "subscribe"
    assert sent[1:] == [("pin", pin_id), ("pause", pause_id), ("search", last_id)]
    assert fake.requests_of("pause") == [protocol.Pause(id=pause_id, path=None)]


def test_a_late_answer_arrives_with_its_old_id(
    link: EngineLink, fake: FakeEngine, qtbot: Any
) -> None:
    fake.reply_search({"results": ["old"]}, delay=0.3, query="old")
    fake.reply_search({"results": ["new"]})
    answers: list[tuple[int, dict[str, Any]]] = []
    link.results_received.connect(lambda rid, response: answers.append((rid, response)))
    old_id = link.search("old")
    new_id = link.search("new")
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=WAIT_MS)
    assert answers == [(new_id, {"results": ["new"]}), (old_id, {"results": ["old"]})]
    assert link.latest_search_id == new_id > old_id


def test_replies_and_error_replies_reach_their_requests(
    link: EngineLink, fake: FakeEngine, qtbot: Any
) -> None:
    fake.reply_text("/a/b.txt", "Whole text of b.")
    with qtbot.waitSignal(link.text_received, timeout=WAIT_MS) as text:
        text_id = link.request_text("/a/b.txt")
    assert text.args == [text_id, PreviewText("/a/b.txt", "Whole text of b.")]
    fake.reply_error("pin", "failed", "no such folder: /nope")
    with qtbot.waitSignal(link.request_failed, timeout=WAIT_MS) as failed:
        pin_id = link.pin("/nope")
    assert failed.args == [pin_id, "failed", "no such folder: /nope"]
    for call, detail in ((lambda: link.resume("/a"), "resume /a"),
                         (lambda: link.unpin("/a"), "unpin /a"),
                         (lambda: link.forget("/a"),
                          "forgot /a: 0 file(s) and 0 passage(s) removed"),
                         (lambda: link.reindex("/a/b.txt"), "reindex /a/b.txt")):
        with qtbot.waitSignal(link.request_completed, timeout=WAIT_MS) as done:
            request_id = call()
        assert done.args == [request_id, detail]
    assert [m.paths for m in fake.requests_of("forget")] == [("/a",)]  # type: ignore[attr-defined]


def test_after_a_crash_the_link_fails_then_reconnects_to_the_restarted_engine(
    link: EngineLink, fake: FakeEngine, qtbot: Any
) -> None:
    fake.reply_search({"results": []}, delay=30.0)
    lost_id = link.search("in flight")
    qtbot.waitUntil(lambda: bool(fake.requests_of("search")), timeout=WAIT_MS)
    old_token = fake.token
    lost: list[tuple[Any, ...]] = []
    link.engine_failed.connect(lambda *args: lost.append(args))
    link.request_failed.connect(lambda *args: lost.append(args))
    with qtbot.waitSignals([link.engine_failed, link.request_failed], timeout=WAIT_MS):
        fake.crash()
    assert lost == [("the engine closed the connection",),
                    (lost_id, "disconnected", "the engine closed the connection")]
    assert not link.is_connected() and not fake.running
    with qtbot.waitSignal(link.connected, timeout=WAIT_MS):
        fake.restart()
    assert fake.token != old_token and fake.requests_of("hello")[-1].token == fake.token
    qtbot.waitUntil(lambda: fake.subscribers == 1, timeout=WAIT_MS)
    fake.reply_search({"results": ["again"]})
    with qtbot.waitSignal(link.results_received, timeout=WAIT_MS) as results:
        link.search("in flight")
    assert results.args[1] == {"results": ["again"]}


def test_a_refused_token_fails_with_the_reason(
    make_link: Callable[..., EngineLink], data_dir: Path, qtbot: Any
) -> None:
    engine = FakeEngine(data_dir, refuse_auth=True).start()
    try:
        link = make_link()
        with qtbot.waitSignal(link.engine_failed, timeout=WAIT_MS) as failed:
            link.start()
        assert failed.args == ["the engine refused the connection (auth): wrong token"]
        assert not link.is_connected()
        with qtbot.assertNotEmitted(link.connected, wait=300):
            pass
    finally:
        engine.stop()


def test_shutdown_stops_the_engine_and_the_link(
    link: EngineLink, fake: FakeEngine, qtbot: Any
) -> None:
    with qtbot.assertNotEmitted(link.engine_failed):
        with qtbot.waitSignal(link.engine_stopped, timeout=WAIT_MS):
            shutdown_id = link.shutdown_engine()
    assert fake.requests_of("shutdown") == [protocol.Shutdown(id=shutdown_id)]
    qtbot.waitUntil(lambda: not fake.running, timeout=WAIT_MS)
    assert not link.is_connected()


def test_an_engine_that_exits_at_start_fails_with_its_log(
    make_link: Callable[..., EngineLink], data_dir: Path, qtbot: Any
) -> None:
    crashing = [sys.executable, "-c", "import sys; print('no model here'); sys.exit(3)"]
    link = make_link(spawn=True, engine_command=crashing)
    with qtbot.waitSignal(link.engine_failed, timeout=WAIT_MS) as failed:
        link.start()
    assert failed.args == ["the engine exited at start: no model here"]
    assert "no model here" in (data_dir / "engine.log").read_text()


def test_an_engine_that_cannot_be_started_fails_with_the_reason(
    make_link: Callable[..., EngineLink], qtbot: Any
) -> None:
    link = make_link(spawn=True, engine_command=["/nonexistent/dowse", "serve"])
    with qtbot.waitSignal(link.engine_failed, timeout=WAIT_MS) as failed:
        link.start()
    assert failed.args[0].startswith("cannot start the engine (/nonexistent/dowse): ")


def test_thousands_of_signals_cost_no_references_to_true_or_none(
    link: EngineLink, fake: FakeEngine, qtbot: Any
) -> None:
    """PySide6 6.12's emit() and Signal(dict) drop references to True and None (see _emit)."""
    seen: list[dict[str, Any]] = []
    link.index_progressed.connect(seen.append)
    event = protocol.Progress(queued=1, done=0, failed=0, bytes=0, rate=0.0,
                              eta_seconds=None, current="")
    before = sys.getrefcount(True), sys.getrefcount(None)
    fake.push_raw(protocol.encode(event) * 3000)
    qtbot.waitUntil(lambda: len(seen) == 3000, timeout=WAIT_MS)
    seen.clear()
    after = sys.getrefcount(True), sys.getrefcount(None)
    assert after[0] > before[0] - 100 and after[1] > before[1] - 100


# -- the real engine ----------------------------------------------------------------------


@pytest.fixture
def short_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    runtime = Path(tempfile.mkdtemp(prefix="dw-"))  # sun_path is short; pytest's tmp is long
    monkeypatch.setenv("DOWSE_RUNTIME_DIR", str(runtime))
    yield runtime
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.mark.e2e
@pytest.mark.model
def test_a_spawned_real_engine_indexes_searches_and_shuts_down(
    make_link: Callable[..., EngineLink], data_dir: Path, tmp_path: Path,
    short_runtime: Path, qtbot: Any,
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "tern.txt").write_text("Arctic terns migrate from pole to pole every year.\n")
    (folder / "bread.txt").write_text("The sourdough starter needs feeding twice a day.\n")
    link = make_link(spawn=True, status_interval_ms=500)
    try:
        with qtbot.waitSignal(link.connected, timeout=60_000):
            link.start()
        assert (data_dir / "engine.log").exists()
        with qtbot.waitSignal(link.folder_changed, timeout=60_000,
                              check_params_cb=lambda row: row["state"] == "idle"):
            link.pin(str(folder))
        with qtbot.waitSignal(link.results_received, timeout=30_000) as results:
            link.search("birds that fly a long way", mode="hybrid", k=2)
        top = results.args[1]["results"][0]
        assert top["path"] == str(folder / "tern.txt") and top["explanation"]
        with qtbot.waitSignal(link.engine_stopped, timeout=30_000):
            link.shutdown_engine()
        qtbot.waitUntil(lambda: not engine_running(data_dir), timeout=30_000)
    finally:
        stop_leftover_engine(data_dir)

