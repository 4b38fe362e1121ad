"""Loads the encoder and the vector index for the engine process, off the worker's thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.config import Config
from engine.embed.model_dir import resolve_model_dir
from engine.store import DatabaseCorruptError, Store
from engine.store.database import DB_FILE_NAME

if TYPE_CHECKING:
    from engine.search.semantic import SemanticIndex


@dataclass(frozen=True)
class LoadedModel:
    semantic: SemanticIndex
    store: Store  # the semantic side's own connection; the worker writes through its own
    record: dict[str, str]  # model, device, precision, note: as status reports them (live)


def model_name(config: Config) -> str:
    return resolve_model_dir(config.embed.model_path).name


def load_semantic(
    data_dir: Path, config: Config, database_sound: Callable[[], bool] = lambda: True
) -> LoadedModel:
    """The embedding child and the vectors, side by side, then any passages an earlier run left
    unembedded.

    The model lives in a child process (engine/serve/remote_encoder.py), so this process never
    imports torch. `database_sound` is asked before the vectors: the child loads while the
    database is being checked, and nothing reads a damaged one (DatabaseCorruptError).
    """
    from engine.search.semantic import SemanticIndex
    from engine.serve.remote_encoder import RemoteEncoder

    encoder = RemoteEncoder(config.embed, data_dir / "cache")
    encoder.begin()
    try:
        if not database_sound():
            raise DatabaseCorruptError(data_dir / DB_FILE_NAME, "found by quick_check")
        store = Store.open_in(data_dir)
        try:
            semantic = SemanticIndex(store, encoder, data_dir, config.index)
            encoder.wait_ready()
        except BaseException:
            store.close()
            raise
    except BaseException:
        encoder.close()
        raise
    return LoadedModel(semantic, store, encoder.record)
