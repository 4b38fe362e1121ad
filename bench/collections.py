"""Shared collections for benchmarks: each indexed once into a reusable work dir."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.cli.evaluate import Collection, load_collection, write_documents  # noqa: E402
from engine.core import Engine  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
DEFAULT_WORK = Path("/tmp/dowse-bench")


def available() -> list[str]:
    if not SHARED.is_dir():
        return []
    return sorted(p.name for p in SHARED.iterdir() if (p / "corpus.jsonl").is_file())


def indexed_engine(
    name: str, work: Path = DEFAULT_WORK
) -> tuple[Engine, Collection, dict[str, str]]:
    """An Engine over `name` written as files under work/name/docs; indexing is incremental."""
    collection = load_collection(SHARED / name)
    data_dir = work / name
    mapping = write_documents(collection, data_dir / "docs")
    engine = Engine(data_dir)
    engine.index([data_dir / "docs"])
    return engine, collection, mapping
