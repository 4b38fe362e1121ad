"""FolderWatcher against real folders: the native observer (inotify here) and polling."""

from __future__ import annotations

import ctypes
import errno
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.ingest.watch import DUPLICATE_WATCH_WARNING, THREAD_PREFIX, FolderWatcher, WatchBatch

# pytest's "error" filter outranks the one engine.ingest.watch installs for this upstream race.
pytestmark = pytest.mark.filterwarnings(f"ignore:{DUPLICATE_WATCH_WARNING}:RuntimeWarning")

DEBOUNCE = 0.2
POLL_INTERVAL = 0.15
# A poll can land in the middle of a scenario, so polling gets a debounce that spans two polls.
POLL_DEBOUNCE = 0.4
TIMEOUT = 5.0
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux's")
both_modes = pytest.mark.parametrize("mode", ["live", "polling"])


def wait_for(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Batches:
    """An on_batch callback that keeps what it gets, for the test thread to wait on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[WatchBatch] = []

    def __call__(self, batch: WatchBatch) -> None:
        with self._lock:
            self._items.append(batch)

    @property
    def items(self) -> list[WatchBatch]:
        with self._lock:
            return list(self._items)

    def wait(self, predicate: Callable[[WatchBatch], bool], since: int = 0) -> WatchBatch:
        """The first batch from number ``since`` on that matches, waiting for it if need be."""
        found: list[WatchBatch] = []

        def seen() -> bool:
            found[:] = [b for b in self.items[since:] if predicate(b)]
            return bool(found)

        assert wait_for(seen), f"no matching batch; got {self.items}"
        return found[0]


def batch(
    root: Path,
    changed: set[Path] | None = None,
    moved: tuple[tuple[Path, Path], ...] = (),
    removed: set[Path] | None = None,
    rescan: set[Path] | None = None,
) -> WatchBatch:
    return WatchBatch(
        root, frozenset(changed or ()), moved, frozenset(removed or ()), frozenset(rescan or ())
    )


def write(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@dataclass
class Watching:
    root: Path
    batches: Batches
    watcher: FolderWatcher


Start = Callable[..., Watching]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


@pytest.fixture
def make_watcher() -> Iterator[Callable[..., FolderWatcher]]:
    """Builds watchers (small debounce by default) and closes them after the test."""
    made: list[FolderWatcher] = []

    def make(on_batch: Callable[[WatchBatch], None], **options: Any) -> FolderWatcher:
        made.append(FolderWatcher(on_batch, **{"debounce": DEBOUNCE, **options}))
        return made[-1]

    yield make
    for watcher in made:
        watcher.close()


@pytest.fixture
def start(root: Path, make_watcher: Callable[..., FolderWatcher]) -> Start:
    """Starts watching ``root``: create the files that must predate the batch first."""

    def start(mode: str = "live", on_batch: Callable[[WatchBatch], None] | None = None) -> Watching:
        batches = Batches()
        polling = mode == "polling"
        watcher = make_watcher(
            on_batch or batches,
            debounce=POLL_DEBOUNCE if polling else DEBOUNCE,
            max_delay=3.0,
            poll_interval=POLL_INTERVAL,
            force_polling=polling,
        )
        assert watcher.watch(root) == mode
        assert watcher.mode(root) == mode
        return Watching(root, batches, watcher)

    return start


@both_modes
def test_many_modifications_become_one_change(root: Path, start: Start, mode: str) -> None:
    notes = write(root / "docs" / "notes.txt")
    w = start(mode)
    for i in range(20):
        notes.write_text("edit " * (i + 2))
    got = w.batches.wait(lambda b: notes in b.changed)
    # The folder's own "modified" events do not ask for a rescan.
    assert got == batch(root, changed={notes})


@pytest.mark.parametrize(
    ("mode", "temp_name"),
    [
        ("live", "notes.txt.tmp"),
        ("live", ".notes.txt.swp"),
        ("live", "notes.txt~"),
        ("polling", "notes.txt.tmp"),
    ],
)
def test_save_by_rename_reports_only_the_target(
    root: Path, start: Start, mode: str, temp_name: str
) -> None:
    notes = write(root / "notes.txt", "old")
    w = start(mode)
    temp = write(root / temp_name, "the new text")
    temp.replace(notes)
    assert w.batches.wait(lambda b: notes in b.changed) == batch(root, changed={notes})


def test_create_then_delete_leaves_nothing(root: Path, start: Start) -> None:
    w = start()
    scratch = write(root / "scratch.txt")
    scratch.unlink()
    marker = write(root / "marker.txt")
    w.batches.wait(lambda b: marker in b.changed)
    assert w.batches.items == [batch(root, changed={marker})]


@both_modes
def test_plain_rename_is_a_move(root: Path, start: Start, mode: str) -> None:
    a = write(root / "a.txt")
    w = start(mode)
    a.rename(root / "b.txt")
    got = w.batches.wait(lambda b: bool(b.moved))
    assert got == batch(root, moved=((a, root / "b.txt"),))


def test_chained_renames_collapse(root: Path, start: Start) -> None:
    a = write(root / "a.txt")
    w = start()
    a.rename(root / "b.txt")
    (root / "b.txt").rename(root / "c.txt")
    got = w.batches.wait(lambda b: bool(b.moved))
    assert got == batch(root, moved=((a, root / "c.txt"),))


def test_rename_then_modify_is_a_move_and_a_change(root: Path, start: Start) -> None:
    a = write(root / "a.txt")
    w = start()
    b = a.rename(root / "b.txt")
    b.write_text("changed after the move")
    got = w.batches.wait(lambda x: bool(x.moved))
    assert got == batch(root, changed={b}, moved=((a, b),))


@both_modes
def test_delete_is_a_removal(root: Path, start: Start, mode: str) -> None:
    a = write(root / "sub" / "a.txt")
    w = start(mode)
    a.unlink()
    assert w.batches.wait(lambda b: bool(b.removed)) == batch(root, removed={a})


def test_filesystem_state_at_flush_decides(root: Path, start: Start) -> None:
    old = write(root / "old.txt")
    w = start()
    old.write_text("modified, then deleted")
    old.unlink()  # it predates the batch: removed
    new = write(root / "new.txt")
    new.rename(root / "newer.txt")
    (root / "newer.txt").unlink()  # born in the batch: nothing
    assert w.batches.wait(lambda b: bool(b.removed)) == batch(root, removed={old})


def test_moves_across_the_root_edge(root: Path, start: Start) -> None:
    outside = write(root.parent / "outside.txt")
    leaving = write(root / "leaving.txt")
    w = start()
    outside.rename(root / "arrived.txt")
    leaving.rename(root.parent / "left.txt")
    # watchdog holds an unpaired IN_MOVED_FROM back for 0.5 s, so this may take two batches.
    w.batches.wait(lambda b: leaving in b.removed)
    assert {p for b in w.batches.items for p in b.changed} == {root / "arrived.txt"}
    assert {p for b in w.batches.items for p in b.removed} == {leaving}
    assert not any(b.moved or b.rescan for b in w.batches.items)


def test_folder_create_move_delete_ask_for_rescans(root: Path, start: Start) -> None:
    w = start()
    made = root / "made"
    write(made / "inner" / "f.txt")
    w.batches.wait(lambda b: made in b.rescan)
    count = len(w.batches.items)

    moved = made.rename(root / "moved")
    assert {made, moved} <= w.batches.wait(lambda b: moved in b.rescan, since=count).rescan
    count = len(w.batches.items)

    shutil.rmtree(moved)
    got = w.batches.wait(lambda b: moved in b.rescan, since=count)
    assert moved / "inner" / "f.txt" not in got.changed


def test_paths_keep_a_symlinked_root(
    tmp_path: Path, make_watcher: Callable[..., FolderWatcher]
) -> None:
    # Watchdog alone sees nothing under a symlinked root: inotify watches the link itself.
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    batches = Batches()
    assert make_watcher(batches).watch(link) == "live"
    write(real / "a.txt")
    assert batches.wait(lambda b: bool(b.changed)) == batch(link, changed={link / "a.txt"})


def test_continuous_stream_is_flushed_by_max_delay(
    root: Path, make_watcher: Callable[..., FolderWatcher]
) -> None:
    batches = Batches()
    make_watcher(batches, debounce=0.3, max_delay=0.5).watch(root)
    busy = root / "busy.log"
    started = time.monotonic()
    while not batches.items and time.monotonic() - started < TIMEOUT:
        busy.write_text(f"{time.monotonic()}")  # every 20 ms: never quiet for 0.3 s
        time.sleep(0.02)
    assert batches.items and batches.items[0].changed == {busy}
    assert time.monotonic() - started < 2.0


def test_unwatch_stops_events(tmp_path: Path, make_watcher: Callable[..., FolderWatcher]) -> None:
    first, second = write(tmp_path / "one" / "a.txt"), write(tmp_path / "two" / "b.txt")
    batches = Batches()
    watcher = make_watcher(batches)
    assert watcher.watch(first.parent) == "live"
    assert watcher.watch(first.parent) == "live"  # watching twice is watching once
    watcher.watch(second.parent)
    watcher.unwatch(first.parent)
    watcher.unwatch(first.parent)
    assert watcher.mode(first.parent) is None
    first.write_text("unseen")
    second.write_text("seen")  # the first folder's batch would be due no later than this one
    batches.wait(lambda b: second in b.changed)
    assert all(b.root == second.parent for b in batches.items)


def test_close_joins_every_thread(root: Path) -> None:
    before = set(threading.enumerate())
    batches = Batches()
    live = FolderWatcher(batches, debounce=DEBOUNCE)
    polling = FolderWatcher(batches, debounce=DEBOUNCE, poll_interval=0.05, force_polling=True)
    other = root.parent / "other"
    other.mkdir()
    for watcher in (live, polling):
        watcher.watch(root)
        watcher.watch(other)
        with pytest.raises(FileNotFoundError):
            watcher.watch(root / "missing")
    write(root / "a.txt")
    assert wait_for(lambda: len(batches.items) == 2)
    for watcher in (live, polling, live):
        watcher.close()
    assert not [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]
    assert set(threading.enumerate()) <= before
    with pytest.raises(RuntimeError):
        live.watch(root)


def test_a_failing_callback_does_not_stop_later_batches(
    root: Path, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    batches = Batches()

    def on_batch(b: WatchBatch) -> None:
        batches(b)
        if len(batches.items) == 1:
            raise ValueError("consumer bug")

    start(on_batch=on_batch)
    write(root / "first.txt")
    batches.wait(lambda b: root / "first.txt" in b.changed)
    write(root / "second.txt")
    batches.wait(lambda b: root / "second.txt" in b.changed)
    failures = [r for r in caplog.records if r.name == "engine.ingest.watch" and r.exc_info]
    assert len(failures) == 1 and "consumer bug" in str(failures[0].exc_info)


@linux_only
@pytest.mark.parametrize(
    ("call", "code"), [("inotify_add_watch", errno.ENOSPC), ("inotify_init", errno.EMFILE)]
)
def test_falls_back_to_polling_when_out_of_inotify_watches(
    root: Path,
    make_watcher: Callable[..., FolderWatcher],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    call: str,
    code: int,
) -> None:
    from watchdog.observers import inotify_c

    def out_of_watches(*args: object) -> int:
        ctypes.set_errno(code)  # what the kernel leaves for watchdog to read
        return -1

    monkeypatch.setattr(inotify_c, call, out_of_watches)
    a = write(root / "a.txt")
    batches = Batches()
    watcher = make_watcher(batches, debounce=POLL_DEBOUNCE, poll_interval=POLL_INTERVAL)
    assert watcher.watch(root) == "polling"
    assert watcher.mode(root) == "polling"
    assert any("polling it every" in r.getMessage() for r in caplog.records)
    # The observer that failed to start left no inotify reader thread behind.
    assert not [t for t in threading.enumerate() if isinstance(t, inotify_c.InotifyFD)]
    a.write_text("seen by polling")
    assert batches.wait(lambda b: bool(b.changed)) == batch(root, changed={a})


@linux_only
def test_inotify_queue_overflow_is_reported(root: Path, start: Start) -> None:
    from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent

    w = start()
    # Feed the observer's inotify reader the record the kernel sends when its queue overflows.
    observer = w.watcher._watched[root].observer
    reader = observer._inotify_fd  # type: ignore[union-attr]
    reader.handle_event(InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b""))
    assert w.batches.wait(lambda b: b.overflowed) == WatchBatch(
        root, frozenset(), (), frozenset(), frozenset(), overflowed=True
    )
    # Watching goes on after watchdog rebuilds its watches.
    a = write(root / "after.txt")
    assert w.batches.wait(lambda b: a in b.changed).changed == {a}
