"""The `dowse` command line: index, search, status, eval, doctor, serve and gui."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from engine import __version__
from engine.cli_render import ProgressBar, print_summary, write_response, write_status
from engine.config import ConfigError, resolve_data_dir
from engine.embed.model_dir import ModelNotFoundError
from engine.logs import configure_logging
from engine.runtime import engine_running
from engine.search import MODES, SearchFilters
from engine.semantic import ModelMismatchError
from engine.store import SchemaTooNewError

if TYPE_CHECKING:
    from engine.core import Engine

log = logging.getLogger(__name__)


def _parse_date(text: str) -> float:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (use YYYY-MM-DD): {text}") from exc


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", metavar="DIR", help="where Dowse keeps its index (also $DOWSE_DATA_DIR)"
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log more")

    parser = argparse.ArgumentParser(prog="dowse", description=__doc__, parents=[common])
    parser.add_argument("--version", action="version", version=f"dowse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gui = sub.add_parser("gui", parents=[common], help="open the desktop app")
    gui.add_argument("--pin", action="append", default=[], metavar="PATH")
    sub.add_parser("serve", parents=[common], help="run the engine process")

    index = sub.add_parser("index", parents=[common], help="pin folders and index them")
    index.add_argument("paths", nargs="+", metavar="PATH")
    index.add_argument(
        "--keyword-only", action="store_true", help="skip embedding (keyword search only)"
    )
    index.add_argument(
        "--reindex", action="store_true", help="re-embed every passage (after changing model)"
    )

    search = sub.add_parser("search", parents=[common], help="search the index")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--mode", choices=MODES, default=None)
    search.add_argument("--k", type=int, default=None, help="number of files to return")
    search.add_argument("--explain", action="store_true", help="say why each result matched")
    search.add_argument("--json", action="store_true", help="print one JSON object")
    search.add_argument("--folder", action="append", default=[], help="only under this folder")
    search.add_argument("--type", action="append", default=[], help="only this suffix, e.g. pdf")
    search.add_argument("--after", type=_parse_date, help="modified on or after YYYY-MM-DD")
    search.add_argument("--before", type=_parse_date, help="modified on or before YYYY-MM-DD")

    status = sub.add_parser("status", parents=[common], help="show what is indexed")
    status.add_argument("--json", action="store_true")

    ev = sub.add_parser("eval", parents=[common], help="measure quality on a BEIR folder")
    ev.add_argument("dataset", metavar="DATASET_DIR")
    ev.add_argument("--mode", choices=MODES, default="hybrid")
    ev.add_argument("--json", action="store_true")

    doctor = sub.add_parser(
        "doctor", parents=[common], help="check this install; exit status 1 on a problem"
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # serve and gui also log to a rotating file in the user's state folder (engine.logs).
    configure_logging(args.command, args.verbose)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"dowse: configuration error: {exc}", file=sys.stderr)
        return 2
    except (ModelMismatchError, ModelNotFoundError, SchemaTooNewError) as exc:
        print(f"dowse: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ndowse: interrupted; everything indexed so far is kept.", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args.data_dir)
    if args.command == "gui":
        # The desktop package is imported only here, so the engine never depends on Qt.
        try:
            gui = importlib.import_module("desktop.app")
        except ModuleNotFoundError as exc:
            if exc.name not in ("desktop", "desktop.app"):
                raise
            print(
                "dowse gui: the desktop app is not part of this build yet; use "
                "`dowse index PATH` and `dowse search QUERY` meanwhile.",
                file=sys.stderr,
            )
            return 2
        return int(gui.main(data_dir=data_dir, pin=args.pin))
    if args.command == "serve":
        from engine.server import EngineAlreadyRunningError, run_serve

        try:
            run_serve(data_dir)
        except EngineAlreadyRunningError as exc:
            print(f"dowse serve: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "doctor":
        from engine.doctor import diagnose, write_report

        report = diagnose(data_dir)
        write_report(report, args.json, sys.stdout)
        return 0 if report.ok else 1
    if args.command == "eval":
        from engine.evaluate import run_eval_command

        return run_eval_command(args, data_dir if args.data_dir else None)

    if args.command in ("index", "search", "status") and engine_running(data_dir):
        from engine.cli_remote import run_remote

        return run_remote(args, data_dir)

    from engine.core import Engine

    engine = Engine(data_dir)
    try:
        if args.command == "index":
            return _index(engine, args)
        if args.command == "search":
            return _search(engine, args)
        if args.command == "status":
            write_status(engine.status(), args.json, sys.stdout)
            return 0
    finally:
        engine.close()
    return 2


def _index(engine: Engine, args: argparse.Namespace) -> int:
    folders = folder_arguments(args.paths)
    if folders is None:
        return 2
    if args.reindex:
        engine.forget_vectors()
    progress = ProgressBar() if sys.stderr.isatty() else None
    if not args.keyword_only:
        if progress:
            print("Loading the model…", end="\r", file=sys.stderr, flush=True)
        encoder = engine.semantic.encoder  # loaded here so a bad model fails before any work
        if progress:
            print(f"Model: {encoder.name}, {encoder.describe()}", file=sys.stderr)
    summary = engine.index(folders, progress, keyword_only=args.keyword_only)
    print_summary(summary, sys.stdout)
    return 0


def search_filters(args: argparse.Namespace) -> SearchFilters:
    folders = tuple(os.path.abspath(Path(f).expanduser()) for f in args.folder)
    return SearchFilters(
        folders=folders,
        suffixes=tuple(args.type),
        modified_after=args.after,
        modified_before=args.before,
    )


def folder_arguments(paths: Sequence[str]) -> list[Path] | None:
    folders = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_dir():
            print(f"dowse: not a folder: {raw}", file=sys.stderr)
            return None
        folders.append(path.resolve())
    return folders


def _search(engine: Engine, args: argparse.Namespace) -> int:
    filters = search_filters(args)
    response = engine.search(args.query, args.mode, args.k, filters, explain=args.explain)
    write_response(response, args.json, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
