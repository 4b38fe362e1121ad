"""A damaged, read-only or missing data dir: a clear message and a way back, never a traceback.

Damage is whole pages overwritten with random bytes (what a bad sector or a torn copy does),
which `PRAGMA quick_check` finds; SQLite keeps no checksums, so a flipped byte inside a
passage's text is not found by it, or by anything short of re-reading the files.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.core import Engine
from engine.serve import protocol
from engine.serve.client import EngineError
from tests.helpers.data_faults import flip_pages, integrity, tmpfs
from tests.helpers.engine_process import running_engine, wait_for, wait_idle

pytestmark = [pytest.mark.e2e]

CONFIG = "[search]\nk = 7\n"


def dowse(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOWSE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`dowse ARGV` in this process (cheaper than a new interpreter; the same code)."""
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def indexed(tmp_path: Path, files: int = 200) -> tuple[Path, Path]:
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(files):
        (tree / f"note{i:03d}.txt").write_text(f"Note code{i:03d}x about lanterns. " * 30)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "config.toml").write_text(CONFIG)
    engine = Engine(data)
    try:
        engine.index([tree], keyword_only=True)
    finally:
        engine.close()
    return tree, data


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_damage_is_reported_and_repair_keeps_folders_settings_and_the_old_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, data = indexed(tmp_path)
    monkeypatch.setenv("DOWSE_DATA_DIR", str(data))
    db = data / "dowse.sqlite3"
    flip_pages(db, first_page=6, pages=4, seed=3)
    damaged = sha(db)

    out = dowse("search", "code007x", "--mode", "keyword", data_dir=data)  # a real process
    assert out.returncode == 2 and "dowse doctor --repair" in out.stderr
    for args in (["index", str(tree)], ["status"]):
        code, _, err = run(capsys, *args)
        assert code == 2 and "damaged" in err and "dowse doctor --repair" in err, args
    code, report_json, _ = run(capsys, "doctor", "--json")
    report = json.loads(report_json)
    assert code == 1 and report["database"] == "damaged"
    assert any("--repair" in p for p in report["problems"])

    code, repaired, _ = run(capsys, "doctor", "--repair")
    assert code == 0
    kept = list(data.glob("dowse.sqlite3.corrupt-*[0-9]"))
    assert len(kept) == 1 and sha(kept[0]) == damaged  # set aside, not deleted
    assert f"index {tree}" in repaired  # the command that indexes the folders again
    assert (data / "config.toml").read_text() == CONFIG
    status = json.loads(run(capsys, "status", "--json")[1])
    assert [f["path"] for f in status["folder_list"]] == [str(tree)] and status["files"] == 0

    assert run(capsys, "index", "--keyword-only", str(tree))[0] == 0
    assert integrity(db) == "ok"
    answer = json.loads(run(capsys, "search", "code007x", "--mode", "keyword", "--json")[1])
    assert [r["path"] for r in answer["results"]] == [str(tree / "note007.txt")]
    assert "nothing to repair" in run(capsys, "doctor", "--repair")[1]


def test_a_header_nothing_can_read_still_keeps_the_pinned_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, data = indexed(tmp_path, files=5)
    monkeypatch.setenv("DOWSE_DATA_DIR", str(data))
    with open(data / "dowse.sqlite3", "r+b") as handle:
        handle.write(os.urandom(100))  # the header: SQLite cannot open it at all
    code, _, err = run(capsys, "search", "code001x")
    assert code == 2 and "damaged" in err
    assert run(capsys, "doctor", "--repair")[0] == 0
    status = json.loads(run(capsys, "status", "--json")[1])
    assert [f["path"] for f in status["folder_list"]] == [str(tree)]  # from pinned-folders.json


def damaged_engine_rebuilds(tmp_path: Path, files: int, reindex: bool) -> None:
    tree, data = indexed(tmp_path, files=files)
    flip_pages(data / "dowse.sqlite3", first_page=6, pages=4, seed=5)
    with running_engine(data, log_path=tmp_path / "engine.log") as (_, client, _rt):
        status = wait_for(lambda: (s := client.status())["problem"] and s, 60, "the damage")
        assert status["problem"]["kind"] == "database_corrupt"
        assert "Rebuild" in status["problem"]["message"]
        assert status["engine"]["activity"] == "database damaged"
        assert [f["path"] for f in status["folder_list"]] == [str(tree)]
        with pytest.raises(EngineError) as raised:
            client.search("code001x", mode="keyword")
        assert raised.value.code == "database_corrupt" and "Rebuild" in str(raised.value)
        with pytest.raises(EngineError) as refused:  # nothing is written to a damaged file
            client.pin(str(tmp_path))
        assert refused.value.code == "database_corrupt"

        detail = client.request(protocol.Rebuild(), protocol.Done).detail
        assert "set the damaged index aside" in detail and "1 pinned folder" in detail
        after = client.status()
        assert after["problem"] is None
        assert [f["path"] for f in after["folder_list"]] == [str(tree)]
        with pytest.raises(EngineError, match="not damaged"):
            client.request(protocol.Rebuild(), protocol.Done)
        if reindex:
            done = wait_idle(client, timeout=300)
            assert done["problem"] is None and done["indexed"] == files
            found = client.search("code001x", mode="keyword")["results"]
            assert [r["path"] for r in found] == [str(tree / "note001.txt")]
    assert len(list(data.glob("dowse.sqlite3.corrupt-*[0-9]"))) == 1
    assert (data / "config.toml").read_text() == CONFIG
    assert integrity(data / "dowse.sqlite3") == "ok"


def test_the_engine_reports_damage_and_rebuilds_on_request(tmp_path: Path) -> None:
    """Damage is found before the model loads, so this needs no model until the rebuild."""
    damaged_engine_rebuilds(tmp_path, files=20, reindex=False)


@pytest.mark.slow
@pytest.mark.model
def test_after_a_rebuild_the_engine_indexes_every_folder_again(tmp_path: Path) -> None:
    damaged_engine_rebuilds(tmp_path, files=200, reindex=True)


COMMANDS = (["status"], ["search", "x", "--mode", "keyword"], ["index", "/"], ["doctor"])


def unusable(data: Path, capsys: pytest.CaptureFixture[str], reason: str) -> None:
    """Every command says it cannot use the dir, and why; `serve` in a real process too."""
    for args in COMMANDS:
        code, out, err = run(capsys, "--data-dir", str(data), *args)
        if args == ["doctor"]:  # doctor reports rather than stops
            assert code == 1 and f"data dir {data}" in out, out
            continue
        assert code == 2, (args, err)
        assert f"cannot use the data dir {data}" in err and reason in err.lower(), (args, err)
    out = dowse("serve", data_dir=data)
    assert out.returncode == 2 and f"cannot use the data dir {data}" in out.stderr


def test_a_data_dir_that_cannot_be_created_is_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DOWSE_DATA_DIR", str(blocker / "data"))
    unusable(blocker / "data", capsys, "not a directory")


def test_a_read_only_data_dir_is_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, data = indexed(tmp_path, files=3)
    ro = tmp_path / "ro"
    monkeypatch.setenv("DOWSE_DATA_DIR", str(ro))
    with tmpfs(ro, 8 << 20):
        for name in ("dowse.sqlite3", "config.toml"):
            (ro / name).write_bytes((data / name).read_bytes())
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        unusable(ro, capsys, "read-only file system")
