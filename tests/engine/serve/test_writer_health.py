"""The writer's account of why it stopped, and when it tries a full disk again."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from engine.serve import writer_health
from engine.serve.writer_health import DATABASE_CORRUPT, DISK_FULL, WriterHealth
from engine.serve.writer_thread import Inbox
from engine.store import DiskFullError


def test_a_full_disk_is_tried_again_once_space_comes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = [10 << 20]
    monkeypatch.setattr(writer_health, "free_bytes", lambda _path: free[0])
    health = WriterHealth(tmp_path)
    problem = health.report_disk_full()
    assert problem.kind == DISK_FULL and str(tmp_path) in problem.message
    assert not health.space_returned()
    free[0] += 100 << 10  # a little: not yet
    assert not health.space_returned()
    free[0] += 2 << 20
    assert health.space_returned()
    health.clear()
    assert health.problem is None


def test_a_full_disk_is_tried_again_after_a_while_in_any_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_health, "free_bytes", lambda _path: 0)
    clock = [1000.0]
    monkeypatch.setattr(writer_health.time, "monotonic", lambda: clock[0])
    health = WriterHealth(tmp_path)
    health.report_disk_full()
    assert not health.space_returned()
    clock[0] += writer_health.RETRY_ANYWAY_SECONDS + 1
    assert health.space_returned()


def test_damage_outlasts_a_full_disk_and_is_not_cleared_by_space(tmp_path: Path) -> None:
    health = WriterHealth(tmp_path)
    health.report_disk_full()
    damage = health.report_damage("Page 6: btreeInitPage() returns error code 11")
    assert damage.kind == DATABASE_CORRUPT and health.damaged
    assert "btreeInitPage" in damage.message and "Rebuild" in damage.message
    health.clear()
    assert health.damaged
    assert health.report_damage("later") is damage  # the first account stands


def test_work_is_run_again_after_the_disk_had_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = [0]
    monkeypatch.setattr(writer_health, "free_bytes", lambda _path: free[0])
    monkeypatch.setattr(writer_health, "SPACE_POLL_SECONDS", 0.01)
    health, inbox = WriterHealth(tmp_path), Inbox()
    runs: list[str] = []
    paused: list[bool] = []

    def work() -> None:
        runs.append("run")
        if len(runs) == 1:
            raise DiskFullError("full")

    def make_room() -> str:  # a command the writer takes while it waits for space
        free[0] = 50 << 20
        return "made room"

    command = inbox.submit(make_room)
    writer_health.work_through_full_disks(work, health, inbox, lambda: paused.append(True))
    assert runs == ["run", "run"] and paused == [True]
    assert command.result(timeout=1) == "made room"
    assert health.problem is None


def test_other_errors_are_not_waited_out(tmp_path: Path) -> None:
    def work() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        writer_health.work_through_full_disks(work, WriterHealth(tmp_path), Inbox(), lambda: None)


def test_a_locked_database_is_waited_out_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_health, "BUSY_RETRY_SECONDS", 0.01)
    monkeypatch.setattr(writer_health, "SPACE_POLL_SECONDS", 0.01)
    runs: list[str] = []

    def work() -> None:
        runs.append("run")
        if len(runs) < 3:
            raise sqlite3.OperationalError("database is locked")

    health = WriterHealth(tmp_path)
    writer_health.work_through_full_disks(work, health, Inbox(), lambda: None)
    assert runs == ["run", "run", "run"]
    assert health.problem is None


def test_a_notify_while_the_writer_is_busy_is_not_lost() -> None:
    """A change queued between the writer's last look at the queue and its sleep wakes it:
    before, the sleep lasted until the next reconcile (the served purge test's rename)."""
    inbox = Inbox()
    inbox.notify()  # the watcher, while the writer was still finishing its idle work
    started = time.monotonic()
    inbox.wait(30.0)
    assert time.monotonic() - started < 5.0
    started = time.monotonic()
    inbox.wait(0.2)  # that notify is spent: this one sleeps its time
    assert time.monotonic() - started >= 0.15
