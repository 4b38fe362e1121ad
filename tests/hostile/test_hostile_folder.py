"""A folder of hostile files, indexed by a real `dowse index` and by a real `dowse serve`.

tests/hostile/kinds.py builds every kind below in tmp_path, beside five ordinary files
(TXT, Markdown, PDF, DOCX, HTML). What Dowse does with each is in docs/HOSTILE_FILES.md.

Kinds:
  non_utf8_name        a name that is not UTF-8 (Latin-1 bytes from an old zip)
  newline_name         a name with a newline in it
  control_name         a name with BEL and a terminal escape
  long_name            a 250-byte name
  dash_name            a name that looks like an option
  spaces_name          a name of spaces
  reserved_name        a name Windows reserves
  odd_folder           a file in a folder whose name is not UTF-8
  deep_path            a file 80 folders deep
  huge_sparse          a 60 GB sparse file (a VM image)
  sparse_under_limit   a 40 MB sparse file with 25 bytes of data
  too_large            a 51 MB log, over the 50 MB limit
  line_less_30mb       30 MB of text without one line break
  line_less_prose      300 KB of prose without one line break
  long_word            a 2 MB word
  utf16le_no_bom       UTF-16-LE text without a byte-order mark
  utf16be_no_bom       UTF-16-BE text without a byte-order mark
  utf32le_no_bom       UTF-32-LE text without a byte-order mark
  utf16_cjk_no_bom     UTF-16-LE Japanese without a byte-order mark
  cp1252               French in Windows-1252
  cp1251               Russian in Windows-1251
  shift_jis            Japanese in Shift-JIS
  broken_utf8          UTF-8 with stray invalid bytes
  empty_docx           an empty (0-byte) DOCX
  empty_pptx           an empty PPTX
  empty_odt            an empty ODT
  empty_epub           an empty EPUB
  empty_pdf            an empty PDF
  empty_txt            an empty text file
  fifo                 a named pipe (opening it would block)
  socket               a Unix socket
  char_device          a character device: a copy of /dev/zero (built only as root)
  symlink_loop         two symbolic links pointing at each other
  dangling_symlink     a symbolic link to nothing
  links_out            links out of the folder, one to /dev/zero
  hard_links           two hard links to one file
  unreadable           a file with mode 000 (as root, which reads it anyway: indexed)
  zip_bomb_docx        a DOCX that unpacks to 300 MB
  zip_ratio_pptx       a PPTX part packed 1000:1
  billion_laughs_odt   an ODT whose XML expands entities exponentially
  billion_laughs_epub  an EPUB whose container.xml does the same
  billion_laughs_docx  a DOCX whose document.xml does the same
  billion_laughs_xml   a .xml file that does the same (read as text)
  deep_html            HTML nested 100,000 elements deep
  deep_odt             an ODT nested 50,000 elements deep
  truncated_pdf        a PDF cut off half-way
  garbage_pdf          a PDF header followed by noise
  not_a_zip_docx       a DOCX that is not a zip
  encrypted_docx       a password-protected DOCX (an OLE2 file)
  binary_txt           random bytes named .txt
  nul_txt              a megabyte of NUL bytes named .txt
  elf_as_md            a program named .md
  gzip_as_txt          gzip data named .txt
  before_1970          a file modified in 1906
  year_2400            a file modified in 2400
  growing              a log appended to while it is read

The suite checks that each run ends within RUN_BOUND_S, that every good file is found by a
keyword and by meaning, that every bad file is listed with its reason in `dowse status
--json` and in `list_errors`, that the processes' peak RSS stays under RSS_BOUND_MB, and that
the folder is byte-for-byte unchanged (the growing log excepted: the suite writes to it).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine.core import Engine
from engine.serve.display import display_path
from engine.store.database import DB_FILE_NAME
from tests.helpers.engine_process import engine_env, running_engine, wait_for, wait_idle
from tests.helpers.peak_rss import PeakRss
from tests.hostile.kinds import GOOD, KINDS, Built, Expect, build_folder, restore_modes
from tests.hostile.tree import GrowingFile, snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.model]

# One `dowse index` of the folder, model load included, ends within this (15-28 s measured).
RUN_BOUND_S = 120.0
# Peak RSS of any one process of `dowse index` (its extraction children included) and of the
# `dowse serve` engine: 632 MB and 163 MB measured, most of it the model and torch. The bound
# is the folder-run target of issue 15. Inside the full suite wait4() had reported 2.2 GB: that
# was this pytest process's own high-water mark, which Linux hands to a child at exec
# (tests/helpers/peak_rss.py), not the child's; the peak is now sampled from /proc.
RSS_BOUND_MB = 1024.0


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    errors: dict[str, tuple[str, str]]  # path as the client sees it -> (state, reason)
    found: dict[str, set[str]] = field(default_factory=dict)  # marker -> paths found
    meaning: dict[str, list[str]] = field(default_factory=dict)  # query -> ranked paths
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Hostile:
    root: Path
    built: Built
    before: dict[bytes, str]
    growing: Path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("hostile") / "pinned"
    built = build_folder(root)
    growing = built.entries["growing"][0][0]
    yield Hostile(root, built, snapshot(root, skip={growing}), growing)
    restore_modes(root)


def _dowse(*args: str, data_dir: Path, env: dict[str, str] | None = None,
           ) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run `dowse ARGS`; returns the result, its wall time and its peak RSS in MB: the largest
    of its own and its children's (the extraction children), tests/helpers/peak_rss.py."""
    env = env or {**os.environ, "DOWSE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([sys.executable, "-m", "engine.cli", *args], env=env,
                                   stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        timer = threading.Timer(RUN_BOUND_S * 2, process.kill)  # never hang the suite
        timer.start()
        peak = PeakRss(process.pid)
        peak.start()
        try:
            # Sampled until it exits: wait4's ru_maxrss would report this pytest process's
            # own high-water mark whenever that is the larger (tests/helpers/peak_rss.py).
            while process.poll() is None:
                time.sleep(0.05)
        finally:
            timer.cancel()
            peak_mb = peak.stop()
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(process.args, process.returncode, out.read(),
                                             err.read())
    return result, seconds, peak_mb


def _error_map(rows: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return {str(r["path"]): (str(r["state"]), str(r["reason"])) for r in rows}


@pytest.fixture(scope="module")
def cli_run(hostile: Hostile, tmp_path_factory: pytest.TempPathFactory) -> Run:
    data = tmp_path_factory.mktemp("cli-data")
    with GrowingFile(hostile.growing):  # appended to all through the run
        result, seconds, peak = _dowse("index", str(hostile.root), data_dir=data)
    assert result.returncode == 0, result.stderr[-3000:]
    status_out, _, _ = _dowse("status", "--json", data_dir=data)
    assert status_out.returncode == 0, status_out.stderr[-3000:]
    status = json.loads(status_out.stdout)
    run = Run(seconds, peak, _error_map(status["error_list"]), extra={"status": status})
    print(f"\nhostile: dowse index {seconds:.1f} s, peak RSS {peak:.0f} MB")  # with -s
    # One search through the CLI, for its JSON: a path that is not UTF-8 comes out as U+FFFD.
    marker = hostile.built.entries["non_utf8_name"][0][1].marker
    searched, _, _ = _dowse("search", marker, "--mode", "keyword", "--json", data_dir=data)
    run.extra["search_json"] = searched.stdout
    engine = Engine(data)
    try:
        for entries in hostile.built.entries.values():
            for _path, expect in entries:
                if expect.marker:
                    response = engine.search(expect.marker, mode="keyword", k=5)
                    run.found[expect.marker] = {r.best.path for r in response.results}
        for good in GOOD:
            run.found[good.word] = {
                r.best.path for r in engine.search(good.word, mode="keyword", k=5).results
            }
            run.meaning[good.query] = [
                r.best.path for r in engine.search(good.query, mode="semantic", k=3).results
            ]
    finally:
        engine.close()
    return run


@pytest.fixture(scope="module")
def served(hostile: Hostile, cli_run: Run, tmp_path_factory: pytest.TempPathFactory) -> Run:
    data = tmp_path_factory.mktemp("serve-data")
    started = time.monotonic()
    with running_engine(data) as (process, client, runtime):
        with GrowingFile(hostile.growing, seconds=3.0) as writer:
            client.pin(str(hostile.root))
        final = writer.size
        marker = hostile.built.entries["growing"][0][1].marker

        def growing_indexed() -> bool:
            # From the database, not get_text: the log can outgrow one protocol message.
            return _recorded(data, hostile.growing) == ("indexed", final)

        wait_idle(client, timeout=RUN_BOUND_S)
        wait_for(growing_indexed, RUN_BOUND_S, "the growing log indexed once it stopped")
        seconds = time.monotonic() - started
        peak = _vm_hwm_mb(process.pid)
        run = Run(seconds, peak, _error_map(client.errors(1000)))
        print(f"\nhostile: dowse serve {seconds:.1f} s, engine VmHWM {peak:.0f} MB")  # with -s
        env = engine_env(data, runtime)
        status_out, _, _ = _dowse("status", "--json", data_dir=data, env=env)
        assert status_out.returncode == 0, status_out.stderr[-3000:]
        run.extra["status"] = json.loads(status_out.stdout)
        run.extra["growing_marker"] = marker
        for entries in hostile.built.entries.values():
            for path, expect in entries:
                if expect.marker:
                    answer = client.search(expect.marker, mode="keyword", k=5)
                    run.found[expect.marker] = {hit["path"] for hit in answer["results"]}
                if expect.state == "indexed":
                    run.extra.setdefault("texts", {})[str(path)] = _text_of(client, str(path))
        for good in GOOD:
            answer = client.search(good.word, mode="keyword", k=5)
            run.found[good.word] = {hit["path"] for hit in answer["results"]}
            answer = client.search(good.query, mode="semantic", k=3)
            run.meaning[good.query] = [hit["path"] for hit in answer["results"]]
    return run


def _recorded(data: Path, path: Path) -> tuple[str, int] | None:
    """(state, size) of a file as the engine recorded it, read from its database."""
    uri = f"file:{data / DB_FILE_NAME}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
        row = conn.execute("SELECT state, size FROM files WHERE path = ?", (str(path),)).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def _text_of(client: Any, path: str) -> str | None:
    from engine.serve.client import EngineError
    from engine.serve.protocol import FileText, GetText

    try:
        reply = client.request(GetText(path=path), FileText)
    except EngineError:
        return None
    assert reply.path == path
    return str(reply.text)


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _shown(path: Path, client: str) -> str:
    """How a path reads in this client's problem list: lossless through the engine's
    protocol (list_errors), with U+FFFD for bytes that are not UTF-8 in the JSON the CLI
    prints (status --json)."""
    return str(path) if client == "serve" else display_path(str(path), keep_controls=True)


def _check_entries(hostile: Hostile, run: Run, client: str) -> list[str]:
    problems = []
    for kind, entries in hostile.built.entries.items():
        for path, expect in entries:
            problems += _check_one(kind, path, expect, run, client)
    return problems


def _check_one(kind: str, path: Path, expect: Expect, run: Run, client: str) -> list[str]:
    shown = _shown(path, client)  # as status --json lists it
    listed = run.errors.get(shown)
    # Searched in-process or through the protocol: paths are lossless there.
    found = run.found.get(expect.marker, set()) if expect.marker else set()
    lossless = str(path)
    state = expect.state
    if state == "growing":  # `dowse index` gives up on it; the engine reads it once it stops
        state = "failed" if client == "cli" else "indexed"
        expect = Expect(state, r"kept changing while it was read", expect.marker)
    if state == "either":
        state = "indexed" if listed is None else "failed"
    if state == "indexed":
        if listed is not None:
            return [f"{kind}: {shown!r} expected indexed, listed as {listed}"]
        if expect.marker and lossless not in found:
            return [f"{kind}: {shown!r} not found by its marker {expect.marker} ({found})"]
        return []
    if state == "absent":
        if listed is not None or lossless in found:
            return [f"{kind}: {shown!r} should be neither listed nor indexed: {listed} {found}"]
        return []
    if listed is None:
        return [f"{kind}: {shown!r} not listed (expected {state}: {expect.reason})"]
    if listed[0] != state or not re.search(expect.reason, listed[1]):
        return [f"{kind}: {shown!r} listed as {listed}, expected {state} /{expect.reason}/"]
    return []


def test_the_docstring_lists_every_kind() -> None:
    doc = sys.modules[__name__].__doc__ or ""
    listed = re.findall(r"^  (\w+) ", doc, re.MULTILINE)
    assert listed == [kind.name for kind in KINDS]
    assert len(KINDS) >= 40


def test_every_kind_is_built_here(hostile: Hostile) -> None:
    if os.geteuid() != 0:
        pytest.skip("a device node needs root")
    assert hostile.built.unbuilt == []


@pytest.mark.parametrize("client", ["cli", "serve"])
def test_the_run_ends_within_its_bound(client: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue("cli_run" if client == "cli" else "served")
    assert run.seconds < RUN_BOUND_S


@pytest.mark.parametrize("client", ["cli", "serve"])
def test_peak_memory_stays_under_its_bound(client: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue("cli_run" if client == "cli" else "served")
    assert 0 < run.peak_rss_mb < RSS_BOUND_MB


@pytest.mark.parametrize("client", ["cli", "serve"])
def test_every_entry_is_indexed_or_listed_with_its_reason(
    client: str, hostile: Hostile, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue("cli_run" if client == "cli" else "served")
    assert _check_entries(hostile, run, client) == []


@pytest.mark.parametrize("client", ["cli", "serve"])
def test_status_json_lists_the_same_problems(
    client: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue("cli_run" if client == "cli" else "served")
    status = run.extra["status"]
    shown = _error_map(status["error_list"])
    if client == "serve":  # the CLI prints what the engine sends, made valid UTF-8
        expected = {display_path(p, keep_controls=True): v for p, v in run.errors.items()}
    else:
        expected = run.errors
    assert shown == expected
    assert status["failed"] == sum(state == "failed" for state, _ in shown.values())
    assert status["skipped"] == sum(state == "skipped" for state, _ in shown.values())


@pytest.mark.parametrize("client", ["cli", "serve"])
def test_every_good_file_is_found_by_keyword_and_by_meaning(
    client: str, hostile: Hostile, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue("cli_run" if client == "cli" else "served")
    for path, good in hostile.built.good.items():
        assert run.found[good.word] == {str(path)}, good.word
        assert run.meaning[good.query][0] == str(path), (good.query, run.meaning[good.query])


def test_cli_json_shows_a_name_that_is_not_utf8_with_replacement_characters(
    cli_run: Run, hostile: Hostile
) -> None:
    path = hostile.built.entries["non_utf8_name"][0][0]
    answer = json.loads(cli_run.extra["search_json"])
    assert [hit["path"] for hit in answer["results"]] == [
        str(path.parent / "caf\ufffd-\ufffd-old.txt")
    ]


def test_the_engine_previews_files_whose_names_are_not_text(served: Run, hostile: Hostile) -> None:
    texts = served.extra["texts"]
    for kind in ("non_utf8_name", "newline_name", "control_name", "odd_folder"):
        path, expect = hostile.built.entries[kind][0]
        text = texts[str(path)]
        assert text is not None and expect.marker in text, kind


def test_the_folder_is_unchanged(hostile: Hostile, cli_run: Run, served: Run) -> None:
    assert snapshot(hostile.root, skip={hostile.growing}) == hostile.before
