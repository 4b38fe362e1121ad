"""`dowse index`, `search`, `status` and `forget` when an engine already serves the data dir.

Two processes must never write one index, so while `dowse serve` runs these commands go
through it: `index` pins the folders with the engine and follows its progress.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from engine.cli.arguments import filter_fields, folder_arguments, similar_path
from engine.cli.background import wait_for_semantic
from engine.cli.render import format_duration, write_response, write_status
from engine.serve.client import EngineClient, EngineError, EngineUnavailableError
from engine.serve.display import display_path

POLL_SECONDS = 0.25
# Files that failed or were skipped, listed by `dowse status` under "error_list".
ERRORS_LISTED = 1000


def run_remote(args: argparse.Namespace, data_dir: Path) -> int:
    try:
        with EngineClient.connect(data_dir) as engine:
            if args.command == "search":
                return _search(engine, args)
            if args.command == "similar":
                path = similar_path(args.path)
                answer = engine.similar(path, args.page, args.start, args.k)
                write_response(answer, args.json, sys.stdout)
                return 0
            if args.command == "status":
                status = engine.status()
                status["error_list"] = engine.errors(ERRORS_LISTED)
                write_status(status, args.json, sys.stdout)
                return 0
            if args.command == "forget":
                # Absolute here: the engine's working directory is not the caller's.
                paths = [os.path.abspath(os.path.expanduser(p)) for p in args.paths]
                print(engine.forget(paths))
                return 0
            return _index(engine, args)
    except EngineError as exc:
        print(f"dowse: the engine said: {exc}", file=sys.stderr)
        return 1
    except (EngineUnavailableError, OSError) as exc:
        print(f"dowse: lost the engine: {exc}", file=sys.stderr)
        return 1


def _search(engine: EngineClient, args: argparse.Namespace) -> int:
    filters = filter_fields(args)

    def ask() -> dict[str, Any]:
        return engine.search(
            args.query, mode=args.mode, k=args.k, explain=args.explain,
            folders=filters["folders"], types=filters["suffixes"],
            modified_after=filters["modified_after"], modified_before=filters["modified_before"],
        )

    response = ask()
    # An engine just started answers keywords first; a one-off command waits for the rest.
    if response.get("not_ready") and wait_for_semantic(engine):
        response = ask()
    if response.get("not_ready"):
        sides = ", ".join(response["not_ready"])
        print(f"dowse: the {sides} side is not ready yet; these are keyword results",
              file=sys.stderr)
    write_response(response, args.json, sys.stdout)
    return 0


def _index(engine: EngineClient, args: argparse.Namespace) -> int:
    folders = folder_arguments(args.paths)
    if folders is None:
        return 2
    if args.keyword_only:
        print("dowse: the running engine embeds as it indexes; --keyword-only is ignored.",
              file=sys.stderr)
    for folder in folders:
        print(f"dowse: {engine.pin(str(folder))}", file=sys.stderr)
        if args.reindex:
            print(f"dowse: {engine.reindex(str(folder))}", file=sys.stderr)
    tty = sys.stderr.isatty()
    wanted = {str(f) for f in folders}
    while True:
        status = engine.status()
        rows = [r for r in status["folder_list"] if r["path"] in wanted]
        queued = sum(r["queued"] for r in rows)
        meaning = status.get("meaning") or {}
        behind = meaning.get("embedded", 0) < meaning.get("passages", 0)
        if tty:
            eta = format_duration(status.get("eta_seconds"))
            line = f"{queued} files queued, {status['rate']:.1f} files/s, ETA {eta}"
            if not queued and behind:  # every file findable by words; the meaning follows
                line = (f"{meaning['line']}, ETA "
                        f"{format_duration(meaning.get('meaning_eta_seconds'))}")
            print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)
        # Done when the meaning phase is too, or the worker has nothing it can do about it
        # (no model; a passage the encoder refused).
        idle = status["engine"].get("activity") in ("idle", "failed")
        if not queued and (not behind or idle):
            break
        if status.get("problem"):  # a full disk, a damaged database: it will not drain now
            print(f"\ndowse: {status['problem']['message']}", file=sys.stderr)
            return 1
        time.sleep(POLL_SECONDS)
    if tty:
        print(file=sys.stderr)
    _print_folders(rows)
    return 0


def _print_folders(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(
            f"{display_path(row['path'])}: {row['indexed']} indexed, {row['skipped']} skipped, "
            f"{row['failed']} failed (watched {row['watch']})"
        )
