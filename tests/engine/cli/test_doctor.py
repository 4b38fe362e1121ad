"""`dowse doctor` and the rotating log files: what they report, and the problems they catch."""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import logs
from engine.cli.doctor import MIN_INOTIFY_WATCHES, diagnose, write_report
from engine.cli.main import main

KEYS = {
    "dowse", "python", "executable", "packages", "data_dir", "config_file", "device",
    "precision", "hardware", "model_dir", "watch_backend", "watch_observer",
    "inotify_max_user_watches", "log_dir", "engine_running", "database", "ocr", "problems",
    "ok",
}


def fake_proc(root: Path, watches: int) -> Path:
    limits = root / "proc" / "sys" / "fs" / "inotify"
    limits.mkdir(parents=True)
    (limits / "max_user_watches").write_text(f"{watches}\n")
    return root / "proc"


@pytest.fixture(autouse=True)
def _log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path / "logs"))


def test_doctor_json_reports_versions_placement_and_paths(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["doctor", "--json", "--data-dir", str(data_dir)])
    report = json.loads(capsys.readouterr().out)
    assert set(report) == KEYS
    assert code == (0 if report["ok"] else 1) and report["ok"] == (not report["problems"])
    assert set(report["packages"]) == {"torch", "transformers", "PySide6", "hnswlib"}
    assert report["packages"]["torch"] and report["packages"]["PySide6"]
    assert report["data_dir"] == str(data_dir.resolve())
    assert report["device"] in ("cpu", "cuda", "mps")
    assert report["precision"] in ("fp32", "bf16", "fp16", "int8")
    assert Path(report["model_dir"], "config.json").is_file()
    assert report["log_dir"] == str(tmp_path / "logs")
    assert report["engine_running"] is False
    assert not data_dir.exists()  # doctor only looks


def test_doctor_flags_a_low_inotify_limit(data_dir: Path, tmp_path: Path) -> None:
    low = diagnose(data_dir, proc_dir=fake_proc(tmp_path / "low", 8192))
    assert low.inotify_max_user_watches == 8192
    assert not low.ok
    assert any("max_user_watches is 8192" in problem for problem in low.problems)

    high = diagnose(data_dir, proc_dir=fake_proc(tmp_path / "high", MIN_INOTIFY_WATCHES * 8))
    assert not any("inotify" in problem for problem in high.problems)


def test_doctor_flags_a_missing_model_and_exits_1(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir.mkdir()
    missing = tmp_path / "no-such-model"
    (data_dir / "config.toml").write_text(f'[embed]\nmodel_path = "{missing}"\n')
    assert main(["doctor", "--data-dir", str(data_dir)]) == 1
    out = capsys.readouterr().out
    assert "model         missing" in out
    assert f"model: no Hugging Face model folder at {missing}" in out
    assert f"config        {data_dir / 'config.toml'}" in out


def test_doctor_flags_an_unwritable_data_dir_and_a_bad_config(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    report = diagnose(blocker / "data")
    assert any(f"{blocker} is a file, not a folder" in problem for problem in report.problems)

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "config.toml").write_text("[embed\n")
    report = diagnose(data_dir)
    assert any(problem.startswith("configuration: ") for problem in report.problems)
    assert report.device is not None  # the defaults still say what would run


def test_doctor_text_lists_each_problem(data_dir: Path, tmp_path: Path) -> None:
    report = diagnose(data_dir, proc_dir=fake_proc(tmp_path, 100))
    out = io.StringIO()
    write_report(report, False, out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("dowse ")
    assert f"{len(report.problems)} problem(s):" in lines
    assert any(line.startswith("  - fs.inotify.max_user_watches is 100") for line in lines)


@pytest.fixture
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in saved:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.mark.usefixtures("root_handlers")
def test_serve_logs_to_a_rotating_file_in_the_log_dir(tmp_path: Path) -> None:
    path = logs.configure_logging("serve", verbose=False)
    assert path == tmp_path / "logs" / "engine.log"
    assert logs.configure_logging("serve", verbose=False) == path  # once, not twice
    files = [h for h in logging.getLogger().handlers
             if isinstance(h, logging.handlers.RotatingFileHandler)]
    assert len(files) == 1
    assert (files[0].maxBytes, files[0].backupCount) == (logs.MAX_BYTES, logs.BACKUP_COUNT)
    logging.getLogger("engine.test").info("indexed %d files", 3)
    files[0].flush()
    assert "INFO engine.test: indexed 3 files" in path.read_text()


@pytest.mark.usefixtures("root_handlers")
def test_one_shot_commands_log_to_stderr_only(tmp_path: Path) -> None:
    assert logs.configure_logging("search", verbose=False) is None
    assert logs.log_path("gui") == tmp_path / "logs" / "gui.log"
    assert not (tmp_path / "logs").exists()


@pytest.mark.usefixtures("root_handlers")
def test_an_unwritable_log_dir_is_no_reason_to_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(blocker / "logs"))
    assert logs.configure_logging("serve", verbose=False) is None
