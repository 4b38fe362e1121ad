"""One data dir opened for work: the store, the stages, and the searcher, loaded on demand."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config import Config, ensure_data_dir, load_config
from engine.embed.model_dir import resolve_model_dir
from engine.extract.isolated import IsolatedExtractor
from engine.ingest.chunk import PassageTokenizer
from engine.ingest.indexer import Indexer, IndexSummary, ProgressCallback
from engine.ingest.status import folder_rows
from engine.search.searcher import Searcher, SearchFilters, SearchResponse
from engine.store import Store
from engine.store.queue import queue_length

if TYPE_CHECKING:
    from engine.search.semantic import SemanticIndex

log = logging.getLogger(__name__)


class Engine:
    """The engine in-process: what the CLI uses today and the server wraps later."""

    def __init__(self, data_dir: Path, config: Config | None = None) -> None:
        self.data_dir = ensure_data_dir(data_dir)
        self.config = config if config is not None else load_config(self.data_dir)
        self.store = Store.open_in(self.data_dir)
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

    def index(
        self,
        folders: Sequence[Path],
        progress: ProgressCallback | None = None,
        keyword_only: bool = False,
    ) -> IndexSummary:
        vectors = None if keyword_only else self.semantic
        if vectors is not None:
            vectors.embed_missing()  # passages of an earlier keyword-only run
        extract = self.config.extract
        # A child process with a time limit per file: a pathological PDF cannot hang us.
        with IsolatedExtractor(extract.timeout_seconds, extract.max_file_bytes) as extractor:
            indexer = Indexer(
                self.store, self.config, self.tokenizer, vectors, extract=extractor.extract
            )
            return indexer.index_folders(folders, progress)

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
        }

    def close(self) -> None:
        if self._semantic is not None:
            self._semantic.close()
        self.store.close()
