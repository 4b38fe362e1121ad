"""The `dowse` command line's grammar: every command, its flags, and what they turn into."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import __version__
from engine.search.modes import MODES

if TYPE_CHECKING:  # the store and numpy stay unimported on a search through the engine
    from engine.search.searcher import SearchFilters

DESCRIPTION = (
    "The `dowse` command line: index, search, similar, status, forget, eval, doctor, serve"
    " and gui."
)


def _common(data_dir_default: Any, verbose_default: Any) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", metavar="DIR", default=data_dir_default,
        help="where Dowse keeps its index (also $DOWSE_DATA_DIR)",
    )
    common.add_argument("-v", "--verbose", action="store_true", default=verbose_default,
                        help="log more")
    return common


def _parse_date(text: str) -> float:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (use YYYY-MM-DD): {text}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dowse", description=DESCRIPTION, parents=[_common(None, False)]
    )
    parser.add_argument("--version", action="version", version=f"dowse {__version__}")
    # Given after the command, --data-dir and -v override the same options given before it;
    # SUPPRESS keeps a subcommand's absent option from resetting the one given before it.
    common = _common(argparse.SUPPRESS, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gui = sub.add_parser("gui", parents=[common], help="open the desktop app")
    gui.add_argument("--pin", action="append", default=[], metavar="PATH")
    serve = sub.add_parser("serve", parents=[common], help="run the engine process")
    serve.add_argument(
        "--background", action="store_true",
        help="exit after [serve] background_idle_exit_seconds with nothing to do "
        "(how `dowse search` starts it)",
    )

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

    similar = sub.add_parser(
        "similar", parents=[common], help="find passages like one of a file's (more like this)"
    )
    similar.add_argument("path", metavar="PATH", help="an indexed file")
    similar.add_argument("--page", type=int, default=None, help="the passage on this page")
    similar.add_argument("--start", type=int, default=None,
                         help="the passage holding this character offset (as results give)")
    similar.add_argument("--k", type=int, default=None, help="number of files to return")
    similar.add_argument("--json", action="store_true", help="print one JSON object")

    status = sub.add_parser("status", parents=[common], help="show what is indexed")
    status.add_argument("--json", action="store_true")

    forget = sub.add_parser(
        "forget", parents=[common],
        help="unpin folders and purge everything indexed under them from the data dir",
    )
    forget.add_argument("paths", nargs="+", metavar="PATH",
                        help="a pinned folder, or a folder that holds pinned folders")

    ev = sub.add_parser("eval", parents=[common], help="measure quality on a BEIR folder")
    ev.add_argument("dataset", metavar="DATASET_DIR")
    ev.add_argument("--mode", choices=MODES, default="hybrid")
    ev.add_argument("--json", action="store_true")

    doctor = sub.add_parser(
        "doctor", parents=[common], help="check this install; exit status 1 on a problem"
    )
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    doctor.add_argument(
        "--repair", action="store_true",
        help="set a damaged index aside and start afresh, keeping pinned folders and settings",
    )
    return parser


def search_filters(args: argparse.Namespace) -> SearchFilters:
    from engine.search.searcher import SearchFilters

    return SearchFilters(**filter_fields(args))


def filter_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The search's filters as SearchFilters' fields: folders absolute, suffixes as given."""
    return {
        "folders": tuple(os.path.abspath(Path(f).expanduser()) for f in args.folder),
        "suffixes": tuple(args.type),
        "modified_after": args.after,
        "modified_before": args.before,
    }


def folder_arguments(paths: Sequence[str]) -> list[Path] | None:
    folders = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_dir():
            print(f"dowse: not a folder: {raw}", file=sys.stderr)
            return None
        folders.append(path.resolve())
    return folders


def similar_path(raw: str) -> str:
    """The indexed file a `dowse similar` names: absolute, as the index stores paths."""
    return os.path.abspath(os.path.expanduser(raw))
