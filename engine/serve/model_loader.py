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
    record: dict[str, str]  # model, device, precision, note: as status reports them


def model_name(config: Config) -> str:
    return resolve_model_dir(config.embed.model_path).name


def load_semantic(
    data_dir: Path, config: Config, database_sound: Callable[[], bool] = lambda: True
) -> LoadedModel:
    """The model (seconds), then the vectors, then any passages an earlier run left unembedded.

    `database_sound` is asked between the model and the vectors: the model loads while the
    database is being checked, and nothing reads a damaged one (DatabaseCorruptError).
    """
    # torch and the model are imported here, not at start-up: keyword answers need neither.
    from engine.embed.transformer import load_encoder
    from engine.search.semantic import SemanticIndex

    encoder = load_encoder(config.embed, data_dir / "cache")
    if not database_sound():
        raise DatabaseCorruptError(data_dir / DB_FILE_NAME, "found by quick_check")
    store = Store.open_in(data_dir)
    try:
        semantic = SemanticIndex(store, encoder, data_dir, config.index)
        semantic.embed_missing()
    except BaseException:
        store.close()
        raise
    record = {
        "model": encoder.name,
        "device": str(getattr(encoder, "device", "cpu")),
        "precision": str(getattr(encoder, "precision", "fp32")),
        "note": encoder.describe(),
    }
    return LoadedModel(semantic, store, record)
