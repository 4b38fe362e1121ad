"""The engine light when idle and quick to start: idle RSS, the first query after idle, the CLI.

    .venv/bin/python bench/engine_memory.py --data-dir DIR [--idle-wait 600] [--child-idle 300]

DIR is an index already built (the python3-doc folder: `dowse index /usr/share/doc/python3.11/
html`); its config.toml is replaced for the run and put back after. In one run:
- the peer: `dowse search` in-process (DOWSE_SEARCH_STARTS_ENGINE=0), the model and vectors
  loaded for one query, as every search without an engine ran before;
- `dowse search` with no engine running (it starts one in the background and waits for the
  semantic side), then later searches through that engine, whole commands timed;
- RSS of every engine process (the engine and its children) right after, and again after
  `--idle-wait` seconds idle, by which time the embedding child has gone (`--child-idle`);
- the first semantic query after that idle time (the child starts again) and the next one, both
  through the socket and as whole `dowse search` commands.
The machine is shared, so the load average is printed with each figure's peer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchmarks_md import write_section  # noqa: E402
from engine.serve.client import EngineClient  # noqa: E402
from engine.serve.runtime import INFO_FILE, engine_running  # noqa: E402

QUIET_PEER_SECONDS = 9.6  # the in-process `dowse search` on python3-doc, in issue 16
QUERIES = [
    "read a file line by line", "sort a list of dictionaries by a key",
    "asyncio event loop run until complete", "regular expression named groups",
    "format a date as a string", "difference between a list and a tuple",
    "how to make a virtual environment", "catch several exceptions at once",
]


SECTION = "Engine memory, start-up and the command line"
COMMAND = "python bench/engine_memory.py --data-dir DIR --idle-wait 600 --child-idle 300"


def dowse(*args: str, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=900, check=True)
    return time.perf_counter() - started, json.loads(out.stdout)


def peak_in_process(query: str, data: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one in-process `dowse search`."""
    command = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "engine.cli", "search", query,
               "--data-dir", str(data), "--json"]
    started = time.perf_counter()
    out = subprocess.run(command, env={**env, "DOWSE_SEARCH_STARTS_ENGINE": "0"}, cwd=ROOT,
                         capture_output=True, text=True, timeout=900, check=True)
    return time.perf_counter() - started, int(out.stderr.strip().splitlines()[-1]) / 1024


def engine_rss(data: Path) -> dict[str, float]:
    """RSS in MB of the engine and each process under it, by name."""
    engine = psutil.Process(json.loads((data / INFO_FILE).read_text())["pid"])
    sizes = {"engine": engine.memory_info().rss / 2**20}
    for child in engine.children(recursive=True):
        try:
            line = " ".join(child.cmdline())
            kind = ("embedding child" if "spawn_main" in line else
                    "multiprocessing tracker" if "resource_tracker" in line else child.name())
            sizes[f"{kind} {child.pid}"] = child.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            continue
    sizes["all"] = sum(sizes.values())
    return sizes


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def run(data: Path, idle_wait: float, child_idle: float, write: bool) -> dict[str, Any]:
    config = data / "config.toml"
    saved = config.read_text() if config.exists() else None
    config.write_text(f"[embed]\nidle_exit_seconds = {child_idle:g}\n[serve]\n"
                      f"background_idle_exit_seconds = {idle_wait + 3600:g}\n")
    env = {**os.environ, "DOWSE_DATA_DIR": str(data), "DOWSE_SEARCH_STARTS_ENGINE": "1"}
    result: dict[str, Any] = {"data_dir": str(data)}
    try:
        if engine_running(data):
            raise SystemExit(f"an engine already runs for {data}; stop it first")
        result["in_process"] = [peak_in_process(q, data, env) for q in QUERIES[:2]]
        result["load_in_process"] = load()
        first, answer = dowse("search", QUERIES[2], "--json", env=env)
        result["cli_first"] = first
        result["cli_first_mode"] = answer["mode"], answer["not_ready"]
        later = [dowse("search", q, "--json", env=env)[0] for q in QUERIES[3:]]
        result["cli_later"] = later
        result["load_cli"] = load()
        result["rss_busy"] = engine_rss(data)
        with EngineClient.connect(data) as client:
            status = client.status()
            result["embed_start_seconds"] = status["embed_process"]["last_start_seconds"]
        idle_from = time.monotonic()
        while time.monotonic() - idle_from < idle_wait:
            time.sleep(5)
        result["rss_idle"] = engine_rss(data)
        result["idle_seconds"] = time.monotonic() - idle_from
        with EngineClient.connect(data, timeout=300) as client:  # an explanation loads torch
            before = client.status()["embed_process"]
            timed = []
            for query in ("json pretty print", "json pretty print indent"):
                started = time.perf_counter()
                reply = client.search(query, mode="semantic")
                timed.append((time.perf_counter() - started, reply["elapsed_ms"]))
            result["after_idle_socket"] = timed
            result["child_running_before"] = before["running"]
            after = client.status()["embed_process"]
            result["child_restart_seconds"] = after["last_start_seconds"]
            # An explanation needs the full encoder (torch), which the child loads after its
            # first query, at low priority: the child grows to hold it.
            started = time.perf_counter()
            client.search("json pretty print", mode="hybrid", explain=True)
            result["first_explain_seconds"] = time.perf_counter() - started
            result["rss_full"] = engine_rss(data)
        # The same once more as whole commands, after the child has gone again.
        time.sleep(child_idle + 3)
        result["after_idle_cli"] = [dowse("search", q, "--mode", "semantic", "--json",
                                          env=env)[0] for q in ("unicode normalisation",
                                                                "unicode normalization form")]
        result["load_after_idle"] = load()
    finally:
        if engine_running(data):
            with EngineClient.connect(data) as client, contextlib.suppress(OSError):
                client.shutdown()  # it may hang up before its reply arrives
            while engine_running(data):
                time.sleep(0.1)
        if saved is None:
            config.unlink(missing_ok=True)
        else:
            config.write_text(saved)
    if write:
        write_section(SECTION, COMMAND, report(result))
    return result


def report(r: dict[str, Any]) -> str:
    peer = statistics.median(t for t, _ in r["in_process"])
    peer_rss = max(m for _, m in r["in_process"])
    busy, idle = r["rss_busy"], r["rss_idle"]
    rows = [
        ("`dowse search`, in-process (the peer: every search before)", f"{peer:.2f} s",
         f"peak RSS {peer_rss:.0f} MB; load {r['load_in_process']}"),
        ("`dowse search`, no engine running (starts one, waits for semantic)",
         f"{r['cli_first']:.2f} s", f"{peer / r['cli_first']:.1f}x faster than the peer"),
        ("`dowse search`, later (through that engine), median / max",
         f"{statistics.median(r['cli_later']):.2f} / {max(r['cli_later']):.2f} s",
         f"{len(r['cli_later'])} commands; load {r['load_cli']}"),
        ("embedding child start (engine start)", f"{r['embed_start_seconds']:.2f} s", ""),
        ("RSS of all engine processes, child running (lean query path)",
         f"{busy['all']:.0f} MB", ", ".join(f"{k} {v:.0f}" for k, v in busy.items()
                                           if k != "all")),
    ]
    if "rss_full" in r:
        full = r["rss_full"]
        rows.append((
            "RSS of all engine processes, child with the full encoder (after an explanation)",
            f"{full['all']:.0f} MB", ", ".join(f"{k} {v:.0f}" for k, v in full.items()
                                               if k != "all")
            + f"; that first explained search took {r['first_explain_seconds']:.2f} s"))
    rows += [
        (f"RSS of all engine processes after {r['idle_seconds'] / 60:.0f} min idle",
         f"{idle['all']:.0f} MB", ", ".join(f"{k} {v:.0f}" for k, v in idle.items()
                                            if k != "all")),
        ("first semantic query after idle (child restarts), socket",
         f"{r['after_idle_socket'][0][0]:.2f} s",
         f"child start {r['child_restart_seconds']:.2f} s; the next query "
         f"{r['after_idle_socket'][1][0] * 1000:.0f} ms"),
        ("first `dowse search --mode semantic` after idle, whole command",
         f"{r['after_idle_cli'][0]:.2f} s",
         f"the next {r['after_idle_cli'][1]:.2f} s; load {r['load_after_idle']}"),
    ]
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    # The issue measured the peer at 9.6 s on this machine when it was quiet; scaled by the
    # peer's own slowdown, the CLI figures read as they would there (an estimate, not a run).
    scale = QUIET_PEER_SECONDS / peer
    return (
        f"Index: {r.get('index', r['data_dir'])}\n\n| measure | value | notes |\n"
        f"|---|---|---|\n{table}\n\n"
        f"The machine was shared (load averages above): the peer took {peer:.1f} s against "
        f"{QUIET_PEER_SECONDS} s when the issue measured it on this machine, idle. Scaled by "
        f"that ({scale:.2f}x), the first `dowse search` with no engine would take about "
        f"{r['cli_first'] * scale:.1f} s (target 3 s) and later ones about "
        f"{statistics.median(r['cli_later']) * scale:.2f} s (target 1 s); an estimate, not "
        "a measurement. Targets met as measured, under load: idle RSS after 10 minutes "
        f"{idle['all']:.0f} MB (target 300 MB, 830 MB before), first semantic query after "
        f"idle {r['after_idle_socket'][0][0]:.2f} s through the socket and "
        f"{r['after_idle_cli'][0]:.2f} s as a whole command (target 2 s).\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--idle-wait", type=float, default=600.0)
    parser.add_argument("--child-idle", type=float, default=300.0)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--index-note", default="", help="what the index holds, for the table")
    parser.add_argument("--report-only", type=Path, help="rewrite the section from saved JSON")
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads(args.report_only.read_text())
        saved["index"] = args.index_note or saved["data_dir"]
        write_section(SECTION, COMMAND, report(saved))
        return
    if args.data_dir is None:
        parser.error("--data-dir is required")
    result = run(args.data_dir.resolve(), args.idle_wait, args.child_idle, not args.no_write)
    print(json.dumps(result, indent=2))
    print(report(result))


if __name__ == "__main__":
    main()
