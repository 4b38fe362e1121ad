"""Word pieces of real pages: the tokenizer on each page whole (HF `tokenizers`, the peer)
against Dowse's kept words (engine/ingest/word_pieces.py), same pages, same tokenizer.

Needs Debian's python3-doc for the pages (`apt-get install python3-doc`); skips without it.

    .venv/bin/python bench/word_pieces.py [--folder DIR] [--files 600] [--rounds 3] [--no-write]

Each round, alternated: the peer; Dowse with an empty cache learning every new word through the
tokenizer (as before engine/ingest/ascii_pieces.py); Dowse with an empty cache (as an extraction
child meets its first pages: words of printable ASCII matched in Python); Dowse again with the
cache that round left (as it meets the rest). Every round
checks that Dowse's ids and offsets are the peer's, page for page. One thread each
(TOKENIZERS_PARALLELISM=false): the extraction children are the parallelism.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchmarks_md import write_section  # noqa: E402
from engine.embed.model_dir import resolve_model_dir  # noqa: E402
from engine.extract import ExtractError, extract_file  # noqa: E402
from engine.ingest.chunk import PassageTokenizer  # noqa: E402
from engine.ingest.word_pieces import WordPieces  # noqa: E402

DEFAULT_FOLDER = Path("/usr/share/doc/python3.11/html")


def _pages(folder: Path, files: int) -> list[str]:
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in {".html", ".txt"})
    texts = []
    for path in paths[:files]:
        try:
            texts.append(extract_file(path, 50 << 20).text)
        except ExtractError:
            continue
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--files", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not args.folder.is_dir():
        print(f"skipped: no {args.folder} (apt-get install python3-doc)")
        return
    pages = _pages(args.folder, args.files)
    tokenizer = PassageTokenizer.from_model_dir(resolve_model_dir(""))
    if not tokenizer.splits_at_spaces:
        print("skipped: this tokenizer does not split at white space; no words are kept")
        return

    def peer() -> list[tuple[list[int], list[int], list[int]]]:
        out = []
        for page in pages:
            ids, spans = tokenizer.encode(page)
            out.append((ids, [s for s, _ in spans], [e for _, e in spans]))
        return out

    times: dict[str, list[float]] = {"peer": [], "tokenizer": [], "cold": [], "warm": []}
    pieces = 0
    for _ in range(args.rounds):
        began = time.perf_counter()
        expected = peer()
        times["peer"].append(time.perf_counter() - began)
        for kind in ("tokenizer", "cold", "warm"):
            if kind != "warm":
                cache = (WordPieces(tokenizer.encode) if kind == "tokenizer"
                         else WordPieces.of(tokenizer._backend, tokenizer.encode))
            began = time.perf_counter()
            got = [cache.encode(page) for page in pages]
            times[kind].append(time.perf_counter() - began)
            if got != expected:
                raise SystemExit(f"{kind}: Dowse's word pieces differ from the tokenizer's")
        pieces = sum(len(ids) for ids, _, _ in expected)
    chars = sum(map(len, pages))
    peer_s = statistics.median(times["peer"])
    rows = [
        "| tokenizing | s per round | median s | M characters/s | against the peer |",
        "|---|---|---|---|---|",
    ]
    labels = {"peer": "HF `tokenizers`, each page whole (peer)",
              "tokenizer": "Dowse, kept words, empty cache, new words through the tokenizer",
              "cold": "Dowse, kept words, empty cache, ASCII words in Python",
              "warm": "Dowse, kept words, warm cache"}
    for kind, label in labels.items():
        median = statistics.median(times[kind])
        rounds = ", ".join(f"{t:.2f}" for t in times[kind])
        rows.append(f"| {label} | {rounds} | {median:.2f} | {chars / median / 1e6:.1f} "
                    f"| {peer_s / median:.2f}× |")
    report = "\n".join([
        f"{len(pages)} pages of `{args.folder}` ({chars:,} characters, {pieces:,} word pieces),"
        f" {args.rounds} alternated rounds, one thread. Ids and offsets identical to the peer's"
        " on every page in every round.", "", *rows, "",
        f"Words kept after a round: {len(cache._index):,}.",
    ])
    print(report)
    if not args.no_write:
        write_section("word-pieces", "python bench/word_pieces.py", report)


if __name__ == "__main__":
    main()
