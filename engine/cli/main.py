"""The `dowse` command line: index, search, status, eval, doctor, serve and gui."""

from __future__ import annotations

import argparse
import importlib
import logging
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.arguments import build_parser, folder_arguments, search_filters, similar_path
from engine.cli.render import ProgressBar, print_summary, write_response, write_status
from engine.config import ConfigError, ensure_data_dir, load_config, resolve_data_dir
from engine.logs import configure_logging, debug_logging
from engine.private_files import restrict_umask
from engine.serve.runtime import (
    SERVE_HOLDER,
    EngineAlreadyRunningError,
    EngineLock,
    engine_running,
    lock_holder,
)

if TYPE_CHECKING:
    from engine.core import Engine

log = logging.getLogger(__name__)

# Files that failed or were skipped, listed by `dowse status` under "error_list".
ERRORS_LISTED = 1000


def main(argv: Sequence[str] | None = None) -> int:
    restrict_umask()  # whatever this process or its children write is private (0600, 0700)
    args = build_parser().parse_args(argv)
    # serve and gui also log to a rotating file in the user's state folder (engine.logs).
    configure_logging(args.command, args.verbose, debug=_debug_logging(args))
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"dowse: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ndowse: interrupted; everything indexed so far is kept.", file=sys.stderr)
        return 130
    except Exception as exc:
        return _known_failure(exc, args)


def _known_failure(exc: Exception, args: argparse.Namespace) -> int:
    """Say what went wrong in one line, with its exit status; re-raise a bug. The error
    classes are imported here: a search through the engine never loads the store or numpy."""
    from engine.cli.faults import describe_fault
    from engine.embed.lazy import ModelLoadError
    from engine.embed.model_dir import ModelNotFoundError
    from engine.search.semantic import ModelMismatchError
    from engine.store import DatabaseCorruptError, SchemaTooNewError

    if isinstance(exc, ModelMismatchError | ModelNotFoundError | SchemaTooNewError):
        print(f"dowse: {exc}", file=sys.stderr)
        return 2
    if isinstance(exc, ModelLoadError):
        print(f"dowse: {exc}. Every file read so far is findable by its words; fix the model "
              "(embed.model_path) and run the same command again to embed them.",
              file=sys.stderr)
        return 2
    if not isinstance(exc, OSError | sqlite3.Error | DatabaseCorruptError):
        raise exc
    fault = describe_fault(exc, resolve_data_dir(args.data_dir))
    if fault is None:
        raise exc
    log.debug("data dir fault", exc_info=True)
    print(f"dowse: {fault[0]}", file=sys.stderr)
    return fault[1]


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
        from engine.serve.server import run_serve

        try:
            run_serve(data_dir, background=args.background)
        except EngineAlreadyRunningError as exc:
            print(f"dowse serve: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "doctor":
        from engine.cli.doctor import diagnose, write_report

        if args.repair:
            from engine.cli.repair import run_repair

            return run_repair(data_dir, sys.stdout)
        report = diagnose(data_dir)
        write_report(report, args.json, sys.stdout)
        return 0 if report.ok else 1
    if args.command == "eval":
        from engine.cli.evaluate import run_eval_command

        return run_eval_command(args, data_dir if args.data_dir else None)

    remote = ("index", "search", "similar", "status", "forget")
    if args.command == "search" and not engine_running(data_dir):
        from engine.cli.background import search_starts_engine, start_background_engine

        # The engine keeps the index open between searches: the next one takes a second.
        if search_starts_engine(data_dir):
            start_background_engine(data_dir)
    writes = args.command in ("index", "forget")
    if args.command in remote and engine_running(data_dir):
        if lock_holder(data_dir).startswith(SERVE_HOLDER):
            from engine.cli.remote import run_remote

            return run_remote(args, data_dir)
        if writes:
            return _refuse_second_writer(data_dir)
        # A search or status beside a `dowse index` reads the index here, as it is so far.

    # One process writes an index at a time: this one, or the engine it found (or that
    # started since the look above), or another `dowse index`, which this one leaves alone.
    lock: EngineLock | None = None
    if writes:
        ensure_data_dir(data_dir)
        try:
            lock = EngineLock(data_dir, holder=f"dowse {args.command}")
        except EngineAlreadyRunningError:
            if not lock_holder(data_dir).startswith(SERVE_HOLDER):
                return _refuse_second_writer(data_dir)
            from engine.cli.remote import run_remote

            return run_remote(args, data_dir)
    try:
        return _run_here(args, data_dir)
    finally:
        if lock is not None:
            lock.release()


def _refuse_second_writer(data_dir: Path) -> int:
    print(f"dowse: {lock_holder(data_dir)} is writing the index in {data_dir}; run this "
          "again once it ends (or stop it: what it indexed so far is kept)", file=sys.stderr)
    return 1


def _run_here(args: argparse.Namespace, data_dir: Path) -> int:
    from engine.core import Engine

    # Only `index` reads the whole file for damage first (seconds on a big index) before it
    # writes; a search or status meets damage only where it reads, and says so (main()).
    engine = Engine(data_dir, check=args.command == "index")
    try:
        if args.command == "index":
            return _index(engine, args)
        if args.command == "search":
            return _search(engine, args)
        if args.command == "similar":
            return _similar(engine, args)
        if args.command == "forget":
            return _forget(engine, args)
        if args.command == "status":
            status = engine.status()
            status["error_list"] = engine.errors(ERRORS_LISTED)
            write_status(status, args.json, sys.stdout)
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
        # A missing model folder or one the index was not built with fails here, before any
        # work; the weights load on the meaning phase's thread while the words go in.
        engine.semantic_loading_later()
    summary = engine.index(folders, progress, keyword_only=args.keyword_only)
    print_summary(summary, sys.stdout)
    model = engine.loaded_model()
    if progress and model:
        print(f"Model: {model}", file=sys.stderr)
    return 0


def _forget(engine: Engine, args: argparse.Namespace) -> int:
    try:
        forgotten = engine.forget(args.paths)
    except ValueError as exc:
        print(f"dowse forget: {exc}", file=sys.stderr)
        return 1
    print(forgotten.describe())
    return 0


def _debug_logging(args: argparse.Namespace) -> bool:
    """`[log] debug` from the data dir's config.toml, or $DOWSE_DEBUG_LOG; off on any doubt."""
    try:
        configured = load_config(resolve_data_dir(args.data_dir)).log.debug
    except (ConfigError, OSError):
        configured = False  # the command itself says what is wrong with the config
    return debug_logging(configured)


def _search(engine: Engine, args: argparse.Namespace) -> int:
    filters = search_filters(args)
    response = engine.search(args.query, args.mode, args.k, filters, explain=args.explain)
    write_response(response, args.json, sys.stdout)
    return 0


def _similar(engine: Engine, args: argparse.Namespace) -> int:
    try:
        response = engine.similar(similar_path(args.path), args.page, args.start, args.k)
    except ValueError as exc:  # not indexed, no passage there, not embedded yet
        print(f"dowse similar: {exc}", file=sys.stderr)
        return 1
    write_response(response, args.json, sys.stdout)
    return 0

