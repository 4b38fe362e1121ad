"""`dowse doctor --repair`: set a damaged index database aside and start a fresh one.

The pinned folders and the settings are kept; nothing is deleted. With an engine running,
the engine does it (it must close the file first) and indexes the folders again by itself.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TextIO

from engine.serve import protocol
from engine.serve.client import EngineClient, EngineError
from engine.serve.runtime import engine_running
from engine.store.database import DB_FILE_NAME
from engine.store.integrity import check_file


def run_repair(data_dir: Path, out: TextIO) -> int:
    if engine_running(data_dir):
        with EngineClient.connect(data_dir, client="dowse doctor") as engine:
            try:
                detail = engine.request(protocol.Rebuild(), protocol.Done).detail
            except EngineError as exc:
                out.write(f"The running engine says: {exc}\n")
                return 0 if exc.code == "failed" else 1
        out.write(f"The running engine {detail}.\n")
        return 0
    damage = check_file(data_dir / DB_FILE_NAME)
    if damage is None:
        out.write(f"The index database in {data_dir} is sound; there is nothing to repair.\n")
        return 0
    from engine.core import rebuild_index

    rebuilt = rebuild_index(data_dir)
    out.write(
        f"The index database was damaged ({damage}).\n"
        f"It is kept, set aside, as {rebuilt.kept_at}; a fresh one took its place.\n"
    )
    if not rebuilt.folders:
        out.write("No pinned folders could be read back; pin them again with `dowse index`.\n")
        return 0
    command = shlex.join(["dowse", "--data-dir", str(data_dir), "index", *rebuilt.folders])
    out.write(
        f"Your settings and {len(rebuilt.folders)} pinned folder(s) are kept. Index them again "
        f"with\n  {command}\nor start the app, which does it by itself.\n"
    )
    return 0
