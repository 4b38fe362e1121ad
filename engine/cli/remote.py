"""`dowse index`, `search` and `status` when an engine process already serves the data dir.

Two processes must never write one index, so while `dowse serve` runs these commands go
through it: `index` pins the folders with the engine and follows its progress.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from engine.cli.arguments import folder_arguments, search_filters
from engine.cli.render import format_duration, write_response, write_status
from engine.serve.client import EngineClient, EngineError, EngineUnavailableError

POLL_SECONDS = 0.25


def run_remote(args: argparse.Namespace, data_dir: Path) -> int:
    try:
        with EngineClient.connect(data_dir) as engine:
            if args.command == "search":
                return _search(engine, args)
            if args.command == "status":
                write_status(engine.status(), args.json, sys.stdout)
                return 0
            return _index(engine, args)
    except EngineError as exc:
        print(f"dowse: the engine said: {exc}", file=sys.stderr)
        return 1
    except (EngineUnavailableError, OSError) as exc:
        print(f"dowse: lost the engine: {exc}", file=sys.stderr)
        return 1


def _search(engine: EngineClient, args: argparse.Namespace) -> int:
    filters = search_filters(args)
    response = engine.search(
        args.query, mode=args.mode, k=args.k, explain=args.explain, folders=filters.folders,
        types=filters.suffixes, modified_after=filters.modified_after,
        modified_before=filters.modified_before,
    )
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
        if tty:
            eta = format_duration(status.get("eta_seconds"))
            print(f"\r\033[K{queued} files queued, {status['rate']:.1f} files/s, ETA {eta}",
                  end="", file=sys.stderr, flush=True)
        if not queued:
            break
        time.sleep(POLL_SECONDS)
    if tty:
        print(file=sys.stderr)
    _print_folders(rows)
    return 0


def _print_folders(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(
            f"{row['path']}: {row['indexed']} indexed, {row['skipped']} skipped, "
            f"{row['failed']} failed (watched {row['watch']})"
        )
