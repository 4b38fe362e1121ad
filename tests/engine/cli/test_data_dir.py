"""`--data-dir` before the command and after it both take effect, for every command.

Parse level for every command the parser knows (found from the parser itself, so a new
command is covered the day it is added); dispatch level for every command; and real runs of
`index`, `status`, `search` and `serve` that check the data lands in the dir given and not
in the default one ($DOWSE_DATA_DIR and $HOME point into tmp_path, never a real home).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main as cli_main
from engine.cli.arguments import build_parser
from tests.helpers.engine_process import connect

KNOWN = {"gui", "serve", "index", "search", "status", "eval", "doctor"}


def commands() -> dict[str, list[str]]:
    """Every command, with dummy values for its required positional arguments."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: dict[str, list[str]] = {}
    for name, command in sub.choices.items():
        found[name] = [
            "x" for a in command._actions
            if not a.option_strings and a.nargs not in ("?", "*", argparse.SUPPRESS)
        ]
    return found


def test_every_known_command_is_found() -> None:
    assert KNOWN <= set(commands())


@pytest.mark.parametrize("command", sorted(commands()))
def test_data_dir_parses_before_and_after_every_command(command: str) -> None:
    rest = commands()[command]
    parse = build_parser().parse_args
    assert parse([command, *rest]).data_dir is None  # then $DOWSE_DATA_DIR, then the default
    assert parse(["--data-dir", "/before", command, *rest]).data_dir == "/before"
    assert parse([command, *rest, "--data-dir", "/after"]).data_dir == "/after"
    both = parse(["--data-dir", "/before", command, *rest, "--data-dir", "/after"])
    assert both.data_dir == "/after"  # the nearer one wins, as with any repeated option
    assert parse(["-v", command, *rest]).verbose and parse([command, *rest, "-v"]).verbose


class _Reached(Exception):
    """Raised where a command would start its work, once it has been handed a data dir."""


# Where each command's work starts: (module, attribute, which argument is the data dir).
WORK = {
    "gui": ("desktop.app", "main", "data_dir"),
    "serve": ("engine.serve.server", "run_serve", 0),
    "doctor": ("engine.cli.doctor", "diagnose", 0),
    "eval": ("engine.cli.evaluate", "run_eval_command", 1),
    "index": ("engine.core", "Engine", 0),
    "search": ("engine.core", "Engine", 0),
    "status": ("engine.core", "Engine", 0),
}


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("command", sorted(commands()))
def test_every_command_works_on_the_data_dir_given(
    command: str, where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dispatch level: the dir given is the one the command's work is handed. A command not
    in WORK yet is checked where main() resolves the dir for it."""
    monkeypatch.setenv("DOWSE_DATA_DIR", str(tmp_path / "default"))
    # serve and gui would add a rotating log file to the root logger for every later test.
    monkeypatch.setattr(cli_main, "configure_logging", lambda *args, **kwargs: None)
    given = tmp_path / "given"
    seen: list[Path] = []
    if command in WORK:
        module, name, which = WORK[command]

        def work(*args: Any, **kwargs: Any) -> None:
            seen.append(Path(kwargs[which] if isinstance(which, str) else args[which]))
            raise _Reached

        monkeypatch.setattr(importlib.import_module(module), name, work)
    else:
        def resolve(value: str | None) -> Path:
            seen.append(Path(value) if value else tmp_path / "default")
            raise _Reached

        monkeypatch.setattr(cli_main, "resolve_data_dir", resolve)
    rest = commands()[command]
    flag = ["--data-dir", str(given)]
    argv = [*flag, command, *rest] if where == "before" else [command, *rest, *flag]
    with pytest.raises(_Reached):
        cli_main.main(argv)
    assert seen == [given]


# -- real runs ------------------------------------------------------------------------------


@pytest.fixture
def homes(tmp_path: Path) -> dict[str, str]:
    """An environment whose default data dir and home are throwaway folders."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        **os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / ".local" / "share"),
        "DOWSE_DATA_DIR": str(tmp_path / "default"), "HF_HUB_OFFLINE": "1",
    }


def dowse(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done


def nothing_in_defaults(env: dict[str, str]) -> None:
    assert not Path(env["DOWSE_DATA_DIR"]).exists()
    assert not any(Path(env["HOME"]).rglob("*")), "something was written under $HOME"


@pytest.mark.e2e
def test_index_status_and_search_use_the_dir_given_before_or_after(
    tmp_path: Path, homes: dict[str, str]
) -> None:
    trees = {}
    for name in ("before", "after"):
        trees[name] = tmp_path / f"tree-{name}"
        trees[name].mkdir()
        (trees[name] / "note.txt").write_text(f"The word zanzibar{name} is only here.\n")
    before, after = tmp_path / "data-before", tmp_path / "data-after"

    dowse(homes, "--data-dir", str(before), "index", "--keyword-only", str(trees["before"]))
    dowse(homes, "index", "--keyword-only", str(trees["after"]), "--data-dir", str(after))
    assert (before / "dowse.sqlite3").is_file() and (after / "dowse.sqlite3").is_file()

    for data, name, args in (
        (before, "before", ["--data-dir", str(before), "status", "--json"]),
        (after, "after", ["status", "--json", "--data-dir", str(after)]),
    ):
        status = json.loads(dowse(homes, *args).stdout)
        assert status["data_dir"] == str(data)
        assert [f["path"] for f in status["folder_list"]] == [str(trees[name])]

    for name, args in (
        ("before", ["--data-dir", str(before), "search", "zanzibarbefore", "--mode", "keyword"]),
        ("after", ["search", "zanzibarafter", "--mode", "keyword", "--data-dir", str(after)]),
    ):
        answer = json.loads(dowse(homes, *args, "--json").stdout)
        assert [r["path"] for r in answer["results"]] == [str(trees[name] / "note.txt")]
    nothing_in_defaults(homes)


@pytest.mark.e2e
def test_serve_listens_for_the_dir_given_before_the_command(
    tmp_path: Path, homes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    given = tmp_path / "given"
    runtime = Path(tempfile.mkdtemp(prefix="dw-"))  # short: sun_path is 108 bytes
    homes["DOWSE_RUNTIME_DIR"] = str(runtime)
    monkeypatch.setenv("DOWSE_RUNTIME_DIR", str(runtime))  # where this client looks
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "--data-dir", str(given), "serve"], env=homes,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )
    try:
        with connect(given, runtime) as client:
            assert client.status()["data_dir"] == str(given)
            client.shutdown()
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(runtime, ignore_errors=True)
    nothing_in_defaults(homes)
