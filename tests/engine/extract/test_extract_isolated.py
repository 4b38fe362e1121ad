"""IsolatedExtractor: same answers as extract_file, and survives hangs, crashes and bugs."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.extract import ExtractError, UnsupportedFile, extract_file
from engine.extract.isolated import IsolatedExtractor
from tests.conftest import REPO_ROOT

LIMIT = 1024 * 1024
TIMEOUT = 1.0
MISBEHAVE = "tests.helpers.extract_targets:misbehave"


@pytest.fixture
def extractor() -> Iterator[IsolatedExtractor]:
    with IsolatedExtractor(timeout=TIMEOUT, max_bytes=LIMIT, target=MISBEHAVE) as isolated:
        yield isolated


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_recovers(extractor: IsolatedExtractor, tmp_path: Path, old_pid: int | None) -> None:
    """The next file goes through a fresh child."""
    notes = write(tmp_path, "after.md", "# After\n\nstill working\n")
    assert extractor.extract(notes) == extract_file(notes, LIMIT)
    assert extractor.pid is not None and extractor.pid != old_pid


def is_gone(pid: int) -> bool:
    """True once `pid` has exited; a zombie nobody reaps (no init in a container) has exited."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status


def test_default_target_matches_in_process_extraction(tmp_path: Path) -> None:
    notes = write(tmp_path, "notes.md", "# Title\n\nSome words.\n\n## Part\n\nMore words.\n")
    with IsolatedExtractor(timeout=10.0, max_bytes=LIMIT) as isolated:
        result = isolated.extract(notes)
    assert result == extract_file(notes, LIMIT)
    assert [h.title for h in result.headings] == ["Title", "Part"]


def test_unsupported_file_passes_through(extractor: IsolatedExtractor, tmp_path: Path) -> None:
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UnsupportedFile) as caught:
        extractor.extract(binary)
    with pytest.raises(UnsupportedFile) as expected:
        extract_file(binary, LIMIT)
    assert str(caught.value) == str(expected.value)
    with pytest.raises(UnsupportedFile, match="^not for us$"):
        extractor.extract(write(tmp_path, "a.txt", "unsupported not for us"))


def test_extract_error_passes_through_with_its_message(
    extractor: IsolatedExtractor, tmp_path: Path
) -> None:
    with pytest.raises(ExtractError, match="^corrupt pdf: bad xref$") as caught:
        extractor.extract(write(tmp_path, "a.txt", "error corrupt pdf: bad xref"))
    assert type(caught.value) is ExtractError
    assert_recovers(extractor, tmp_path, None)


def test_hang_times_out_and_next_file_gets_a_fresh_child(
    extractor: IsolatedExtractor, tmp_path: Path
) -> None:
    extractor.extract(write(tmp_path, "warm.txt", "warm up"))  # start-up is not timed
    pid = extractor.pid
    started = time.monotonic()
    with pytest.raises(ExtractError, match="timed out after 1 s"):
        extractor.extract(write(tmp_path, "hang.txt", "sleep 60"))
    assert time.monotonic() - started < TIMEOUT + 5
    assert pid is not None and is_gone(pid)
    assert_recovers(extractor, tmp_path, pid)


@pytest.mark.parametrize(
    ("command", "how"),
    [("exit 3", "exit code 3"), ("segv", f"signal {int(signal.SIGSEGV)}")],
)
def test_crash_is_reported_and_next_file_gets_a_fresh_child(
    extractor: IsolatedExtractor, tmp_path: Path, command: str, how: str
) -> None:
    extractor.extract(write(tmp_path, "warm.txt", "warm up"))
    pid = extractor.pid
    with pytest.raises(ExtractError, match=rf"^extractor crashed \({how}\)$"):
        extractor.extract(write(tmp_path, "crash.txt", command))
    assert_recovers(extractor, tmp_path, pid)


class Interrupted(Exception):
    """Stands in for KeyboardInterrupt, which would stop the whole test run if it escaped."""


def test_interrupted_wait_does_not_hand_a_stale_answer_to_the_next_call(
    extractor: IsolatedExtractor, tmp_path: Path
) -> None:
    extractor.extract(write(tmp_path, "warm.txt", "warm up"))
    pid = extractor.pid

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Interrupted):
            extractor.extract(write(tmp_path, "slow.txt", "sleep 0.5"))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    time.sleep(0.5)  # a surviving child would have its answer for slow.txt ready by now
    assert_recovers(extractor, tmp_path, pid)


def test_child_killed_while_idle_does_not_fail_the_next_file(
    extractor: IsolatedExtractor, tmp_path: Path
) -> None:
    extractor.extract(write(tmp_path, "warm.txt", "warm up"))
    pid = extractor.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    # Wait until it can be reaped: /proc shows the main thread as a zombie while other
    # threads are still exiting, which is too early to count on.
    deadline = time.monotonic() + 5
    while pid in {p.pid for p in multiprocessing.active_children()}:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert_recovers(extractor, tmp_path, pid)


def test_bug_in_target_becomes_internal_error_and_is_logged(
    extractor: IsolatedExtractor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="engine.extract.isolated"):
        with pytest.raises(ExtractError, match="^internal error in extractor: RuntimeError: oops$"):
            extractor.extract(write(tmp_path, "bug.txt", "raise oops"))
    assert "Traceback" in caplog.text and "misbehave" in caplog.text
    # A bug is not a crash: the same child keeps working.
    pid = extractor.pid
    assert extractor.extract(write(tmp_path, "ok.txt", "fine")).text == "fine"
    assert extractor.pid == pid


def test_target_that_cannot_be_imported_is_an_internal_error(tmp_path: Path) -> None:
    broken = IsolatedExtractor(timeout=TIMEOUT, max_bytes=LIMIT, target="tests.helpers:nothing")
    with broken, pytest.raises(ExtractError, match="internal error in extractor: AttributeError"):
        broken.extract(write(tmp_path, "a.txt", "text"))
    assert broken.pid is None


def test_close_stops_the_child_and_is_idempotent(
    extractor: IsolatedExtractor, tmp_path: Path
) -> None:
    extractor.close()  # before any child: nothing to do
    extractor.extract(write(tmp_path, "a.txt", "text"))
    pid = extractor.pid
    assert pid is not None
    extractor.close()
    extractor.close()
    assert extractor.pid is None
    assert is_gone(pid)


_PARENT = """
import sys, time
from pathlib import Path
from engine.extract.isolated import IsolatedExtractor
extractor = IsolatedExtractor(timeout=60, max_bytes=2**20, target=sys.argv[1])
extractor.extract(Path(sys.argv[2]))
print(extractor.pid, flush=True)
for path in sys.argv[3:]:
    extractor.extract(Path(path))
time.sleep(60)
"""


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
def test_child_exits_when_parent_is_killed(tmp_path: Path, busy: bool) -> None:
    # Busy: the child is stuck in a file when the parent dies, so it never reads the pipe's EOF.
    paths = [write(tmp_path, "a.txt", "text")]
    if busy:
        paths.append(write(tmp_path, "hang.txt", "sleep 60"))
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, MISBEHAVE, *map(str, paths)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    with parent:
        # readline, not read: the child inherited this stdout and holds it open.
        child_pid = int(parent.stdout.readline())
        time.sleep(0.3)  # let the parent reach its wait (busy: hand the child the hanging file)
        parent.kill()
    deadline = time.monotonic() + 5
    while not is_gone(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert is_gone(child_pid)


def test_a_child_started_ahead_serves_the_first_file(tmp_path: Path) -> None:
    page = tmp_path / "note.txt"
    page.write_text("lantern keepers")
    with IsolatedExtractor(30.0, 1 << 20) as extractor:
        extractor.start_soon()
        deadline = time.monotonic() + 60
        while extractor.pid is None and time.monotonic() < deadline:
            time.sleep(0.05)
        started = extractor.pid
        assert started is not None
        extractor.start_soon()  # one runs: no second
        assert "lantern" in extractor.extract(page).text
        assert extractor.pid == started
