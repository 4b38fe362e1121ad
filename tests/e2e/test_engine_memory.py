"""The engine light when idle and quick to start: a real `dowse serve`, its embedding child, and
`dowse search` starting a background engine (issue 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.serve.runtime import INFO_FILE, engine_running
from tests.helpers.documents import write_txt
from tests.helpers.engine_process import (
    engine_env,
    running_engine,
    short_runtime_dir,
    stop_leftover_engine,
    wait_for,
    wait_idle,
)

pytestmark = [pytest.mark.e2e, pytest.mark.model]

TEXTS = {
    "tern.txt": "Arctic terns fly from pole to pole every year.",
    "bread.txt": "The sourdough starter needs feeding twice a day.",
    "whale.txt": "A narwhal tusk is an elongated canine tooth.",
}


def _folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in TEXTS.items():
        write_txt(root / name, text)
    return root


def _torch_mapped(pid: int) -> bool:
    """Whether torch's shared library is loaded in the process (it is, once imported)."""
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def test_keyword_first_then_semantic_and_the_child_idles_out(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "docs")
    data = tmp_path / "data"
    config = "[embed]\nidle_exit_seconds = 1\n"
    with running_engine(data, config) as (process, client, _runtime):
        client.pin(str(folder))
        # A fresh cache: the first child loads the full model and checks the lean path
        # (seconds), so this hybrid search comes before the semantic side is ready.
        early = client.search("arctic terns", mode="hybrid")
        assert early["not_ready"] == ["semantic"] and early["mode"] == "keyword"
        wait_idle(client)
        wait_for(lambda: client.status()["semantic_ready"], 120, "the semantic side")
        question = "which whale has a tooth like a horn"
        wait_idle(client)  # the meaning phase done too
        answer = client.search(question, mode="semantic", explain=True)
        assert answer["not_ready"] == [] and answer["mode"] == "semantic"
        assert answer["results"][0]["path"] == str(folder / "whale.txt")
        assert answer["results"][0]["explanation"]["passage_spans"]  # explained in the child
        assert not _torch_mapped(process.pid)  # the model and torch live in the child only

        # Idle for a second: the child goes, the next semantic query brings it back.
        wait_for(lambda: not client.status()["embed_process"]["running"], 60,
                 "the idle embedding child to exit")
        starts = client.status()["embed_process"]["starts"]
        again = client.search("sourdough starter", mode="hybrid")
        assert again["not_ready"] == [] and again["mode"] == "hybrid"
        assert again["results"][0]["path"] == str(folder / "bread.txt")
        assert again["results"][0]["score_parts"]["semantic"] is not None
        assert client.status()["embed_process"]["starts"] == starts + 1
        assert not _torch_mapped(process.pid)


SCRIPT = textwrap.dedent("""
    import json, sys, threading
    from pathlib import Path
    from engine.config import load_config
    from engine.serve.client import EngineClient
    from engine.serve.server import EngineLock, Server
    from tests.helpers.engine_process import wait_for, wait_idle

    data, folder = Path(sys.argv[1]), sys.argv[2]
    data.mkdir(mode=0o700, exist_ok=True)
    lock = EngineLock(data)
    server = Server(data, load_config(data))
    ready = threading.Event()
    threading.Thread(target=server.serve, args=(ready,), daemon=True).start()
    ready.wait(60)
    with EngineClient.connect(data, client="tests") as client:
        client.pin(folder)
        wait_idle(client)
        wait_for(lambda: client.status()["semantic_ready"], 120, "semantic")
        hit = client.search("narwhal", mode="hybrid", explain=True)["results"][0]
        hits = client.similar(hit["path"])["results"]
    server.stop()
    lock.release()
    print(json.dumps({"modules": sorted(m for m in ("torch", "transformers")
                                        if m in sys.modules),
                      "explained": "explanation" in hit, "similar": len(hits)}))
""")


def test_the_engine_process_never_imports_torch_or_transformers(tmp_path: Path) -> None:
    """Indexing, a hybrid search with explanations and "more like this", all in one engine
    process, whose modules are then listed."""
    folder = _folder(tmp_path / "docs")
    env = engine_env(tmp_path / "data", short_runtime_dir())
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "data"), str(folder)],
                         env=env, capture_output=True, text=True, timeout=600, check=False,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"modules": [], "explained": True, "similar": report["similar"]}


def _dowse(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def _engine_pid(data: Path) -> int:
    return int(json.loads((data / INFO_FILE).read_text())["pid"])


def test_dowse_search_starts_a_background_engine_and_reuses_it(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "docs")
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "config.toml").write_text("[serve]\nbackground_idle_exit_seconds = 8\n")
    env = {**engine_env(data, short_runtime_dir()), "DOWSE_SEARCH_STARTS_ENGINE": "1"}
    try:
        indexed = _dowse("index", str(folder), env=env)
        assert indexed.returncode == 0, indexed.stderr
        assert not engine_running(data)  # `dowse index` starts none

        first = _dowse("search", "whale tooth", "--json", env=env)
        assert first.returncode == 0, first.stderr
        answer = json.loads(first.stdout)
        # The command waited for the semantic side rather than print keyword results.
        assert answer["mode"] == "hybrid" and answer["not_ready"] == []
        assert answer["results"][0]["path"] == str(folder / "whale.txt")
        assert engine_running(data)
        pid = _engine_pid(data)
        assert "--background" in Path(f"/proc/{pid}/cmdline").read_text()

        second = _dowse("search", "sourdough", "--mode", "keyword", "--json", env=env)
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout)["results"][0]["path"] == str(folder / "bread.txt")
        assert _engine_pid(data) == pid  # the same engine answered

        # Nothing to do for 8 s: it leaves by itself, its embedding child with it.
        wait_for(lambda: not engine_running(data), 120, "the background engine to exit")
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 30, "the engine process to end")
    finally:
        stop_leftover_engine(data)
