"""One data dir opened for work: the store, the stages, and the searcher, loaded on demand."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config import Config, ensure_data_dir, load_config
from engine.embed.model_dir import resolve_model_dir
from engine.ingest.chunk import PassageTokenizer
from engine.ingest.forget import (
    Forgotten,
    folders_to_forget,
    forget_folders,
    purge_traces,
    refresh_keywords,
)
from engine.ingest.indexer import IndexSummary, ProgressCallback
from engine.ingest.ocr_stage import index_folders_with_ocr, ocr_status
from engine.ingest.status import folder_rows, meaning_status
from engine.search.searcher import Searcher, SearchFilters, SearchResponse
from engine.store import DatabaseCorruptError, Store
from engine.store.database import DB_FILE_NAME
from engine.store.integrity import load_folder_list, salvage_folders, set_aside
from engine.store.purge import PurgeResult
from engine.store.queue import queue_length

if TYPE_CHECKING:
    from engine.embed.base import Encoder
    from engine.search.semantic import SemanticIndex

log = logging.getLogger(__name__)


class Engine:
    """The engine in-process: what the CLI uses today and the server wraps later."""

    def __init__(self, data_dir: Path, config: Config | None = None, check: bool = False) -> None:
        """Open a data dir; `check` runs quick_check first (DatabaseCorruptError if damaged)."""
        self.data_dir = ensure_data_dir(data_dir)
        self.config = config if config is not None else load_config(self.data_dir)
        self.store = Store.open_in(self.data_dir, check=check)
        self._tokenizer: PassageTokenizer | None = None
        self._semantic: SemanticIndex | None = None

    @property
    def tokenizer(self) -> PassageTokenizer:
        if self._tokenizer is None:
            model_dir = resolve_model_dir(self.config.embed.model_path)
            limit = self.config.chunk.max_tokens
            self._tokenizer = PassageTokenizer.from_model_dir(model_dir, limit)
        return self._tokenizer

    @property
    def semantic(self) -> SemanticIndex:
        """The encoder and the vector index, loaded on first use (the model takes seconds)."""
        if self._semantic is None:
            from engine.embed.transformer import load_encoder
            from engine.search.semantic import SemanticIndex

            encoder = load_encoder(self.config.embed, self.data_dir / "cache")
            self._semantic = SemanticIndex(self.store, encoder, self.data_dir, self.config.index)
        return self._semantic

    def semantic_loading_later(self) -> SemanticIndex:
        """The vector index now, its model on first use (engine/embed/lazy.py): `dowse index`
        starts on the words while the meaning phase's thread loads the model."""
        if self._semantic is None:
            from engine.embed.lazy import LazyEncoder
            from engine.search.semantic import SemanticIndex

            config, cache = self.config.embed, self.data_dir / "cache"

            def load() -> Encoder:  # torch is imported here too, on the loading thread
                from engine.embed.transformer import load_encoder

                full = load_encoder(config, cache)
                # Checked now, before the vector index grows: the check's weights (66 MB on
                # all-MiniLM-L6-v2) then never sit beside the whole index at the run's end.
                self._record_lean_verdict(full)
                return full

            encoder = LazyEncoder(load, resolve_model_dir(config.model_path))
            self._semantic = SemanticIndex(self.store, encoder, self.data_dir, self.config.index)
        return self._semantic

    def loaded_model(self) -> str | None:
        """"name, where it runs" of the model once it is loaded; None before."""
        if self._semantic is None:
            return None
        encoder = self._semantic.encoder
        if not getattr(encoder, "loaded", True):
            return None
        return f"{encoder.name}, {encoder.describe()}"

    def index(
        self,
        folders: Sequence[Path],
        progress: ProgressCallback | None = None,
        keyword_only: bool = False,
    ) -> IndexSummary:
        # Passages an earlier run left without a vector (a keyword-only run, a killed one)
        # are embedded by the meaning phase with the new ones.
        vectors = None if keyword_only else self.semantic_loading_later()
        # Extraction runs in child processes with a time limit per file (a pathological PDF
        # cannot hang us); pictures of pages are read by OCR after every text-bearing file.
        summary = index_folders_with_ocr(
            self.store, self.config, self.tokenizer, vectors, self.data_dir / "cache",
            folders, progress,
        )
        self.purge()  # files deleted or changed since the last run leave no trace
        self.refresh_keywords()
        return summary

    def _record_lean_verdict(self, full: Encoder) -> None:
        """The embedding child's lean query path, checked now that the full encoder is
        loaded anyway (engine/embed/lean_check.py): the first search then needs no torch."""
        from engine.embed.lean_check import record_lean_verdict

        try:
            record_lean_verdict(full, self.config.embed, self.data_dir / "cache")
        except Exception:  # the child checks it itself at its first start
            log.exception("could not check the lean query path")

    def forget(self, paths: Sequence[str]) -> Forgotten:
        """Unpin the folders at or below `paths`, remove what they held and purge it."""
        roots = folders_to_forget([p for _, p, _ in self.store.folders()], paths)
        forgotten = forget_folders(self.store, self._semantic, roots)
        self.purge()
        return forgotten

    def purge(self) -> PurgeResult | None:
        """Make whatever was removed unrecoverable from the data dir (engine.ingest.forget);
        the vector file is pruned without loading the model when it is not loaded."""
        return purge_traces(self.store, self._semantic, self.data_dir, self.config.index)

    def refresh_keywords(self) -> None:
        """Bring the keyword index up to date with FTS5 (engine/store/keyword_index.py)."""
        refresh_keywords(self.store, self.config.search)

    def forget_vectors(self) -> None:
        """Drop every stored vector and the model record, so the next index re-embeds all."""
        from engine.search.semantic import VECTORS_FILE_NAME

        if self._semantic is not None:
            raise RuntimeError("forget_vectors must run before the semantic index is opened")
        with self.store.transaction() as conn:
            conn.execute("UPDATE chunks SET vector = NULL")
            conn.execute("DELETE FROM meta WHERE key IN ('model_name', 'model_dim')")
        (self.data_dir / VECTORS_FILE_NAME).unlink(missing_ok=True)

    def search(
        self,
        query: str,
        mode: str | None = None,
        k: int | None = None,
        filters: SearchFilters | None = None,
        explain: bool = False,
    ) -> SearchResponse:
        mode = mode or self.config.search.default_mode
        semantic = None if mode == "keyword" else self.semantic
        searcher = Searcher(self.store, semantic, self.config.search.candidates)
        return searcher.search(query, mode, k or self.config.search.k, filters, explain=explain)

    def similar(
        self, path: str, page: int | None = None, start: int | None = None, k: int | None = None
    ) -> SearchResponse:
        """"More like this": files with passages near one passage of `path`, by its stored
        vector (engine/search/similar.py)."""
        from engine.search.similar import similar_passages

        search = self.config.search
        return similar_passages(
            self.store, self.semantic.reader(self.store), path, page, start, k or search.k,
            search.candidates,
        )

    def status(self) -> dict[str, Any]:
        """The same keys as the engine process reports, for an index no engine is serving."""
        counts = self.store.counts()
        return {
            "data_dir": str(self.data_dir),
            "engine": {"state": "not running"},
            "model": self.store.get_meta("model_name") or "",
            "device": "", "precision": "", "note": "",
            **counts,
            "errors": counts["failed"],
            "queue": queue_length(self.store.conn),
            "rate": 0.0, "eta_seconds": None, "current": "",
            "folder_list": folder_rows(self.store),
            "ocr": ocr_status(self.store),  # files whose scanned pages are not all read yet
            "meaning": meaning_status(self.store, None, counts["indexed"], counts["files"]),
            "problem": None,  # the engine process reports a full disk or a damaged database
        }

    def errors(self, limit: int = 100) -> list[dict[str, str]]:
        """Files that failed or were skipped, failures first, as `list_errors` reports them."""
        return [{"path": p, "state": s, "reason": r} for p, s, r in self.store.errors(limit)]

    def close(self) -> None:
        try:
            self.purge()  # a removal made through the store directly is purged too
        except (OSError, sqlite3.Error, DatabaseCorruptError) as exc:
            # The flag stays in the database: the next run that can write finishes the purge.
            log.warning("the purge did not finish (%s); the next run does it", exc)
        finally:
            if self._semantic is not None:
                self._semantic.close()
            self.store.close()


@dataclass(frozen=True)
class Rebuilt:
    kept_at: Path  # where the damaged database went
    folders: tuple[str, ...]  # pinned again in the fresh one


def rebuild_index(data_dir: Path) -> Rebuilt:
    """Set a damaged database aside and start a fresh one with the same pinned folders.

    Every connection to it must be closed first. The settings (config.toml) stay as they are;
    the HNSW file, derived from the damaged database, goes. Indexing the folders again is the
    caller's: the engine does it by itself, `dowse index` on asking.
    """
    from engine.search.semantic import VECTORS_FILE_NAME

    database = data_dir / DB_FILE_NAME
    folders = salvage_folders(database) or load_folder_list(data_dir)
    kept_at = set_aside(database)
    (data_dir / VECTORS_FILE_NAME).unlink(missing_ok=True)
    store = Store.open_in(data_dir)
    try:
        for folder in folders:
            store.pin_folder(folder)
    finally:
        store.close()
    return Rebuilt(kept_at, tuple(folders))
