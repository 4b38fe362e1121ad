"""The chunker's word pieces reach the encoder: no passage is tokenized twice when indexing."""

from __future__ import annotations

from array import array
from pathlib import Path

import pytest

from engine.config import ChunkConfig
from engine.core import Engine
from engine.extract import Extracted
from engine.ingest.chunk import PassageTokenizer, chunk_document
from engine.ingest.indexer import Indexer
from engine.ingest.meaning import MeaningStage
from engine.ingest.token_ids import TokenIds
from engine.store.pending_vectors import passage_count, pending_count

pytestmark = pytest.mark.model  # the real tokenizer cuts, the real model embeds

PROSE = " ".join(
    f"Paragraph {n}: the keeper of lighthouse number {n} trimmed its copper lantern, logged "
    "the weather (wind, rain; fog!) and wrote to the harbour-master about naïve café owners."
    + ("\n\n" if n % 3 == 0 else " ")
    for n in range(60)
)


def test_each_passage_ids_are_what_tokenizing_it_alone_gives(engine_tokenizer: PassageTokenizer
                                                             ) -> None:
    passages = chunk_document(Extracted(PROSE, "text"), engine_tokenizer,
                              ChunkConfig(max_tokens=64, overlap_tokens=16))
    assert len(passages) > 10
    with_ids = [p for p in passages if p.ids is not None]
    assert len(with_ids) >= len(passages) - 1  # cut at white space, so nearly all of them
    for p in with_ids:
        assert list(p.ids or ()) == engine_tokenizer.encode(p.text)[0]


def test_dowse_index_embeds_from_the_chunker_ids(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for n in range(3):
        (root / f"log {n}.txt").write_text(PROSE.replace("Paragraph", f"Log {n}, part"))
    engine = Engine(tmp_path / "data")
    try:
        token_ids = TokenIds()
        Indexer(engine.store, engine.config, engine.tokenizer, engine.semantic,
                token_ids=token_ids).index_folders([root])
        conn = engine.store.conn
        total = passage_count(conn)
        assert len(token_ids) == total == pending_count(conn) > 3
        MeaningStage(engine.store, engine.semantic, token_ids=token_ids).drain()
        assert pending_count(conn) == 0 and len(token_ids) == 0
        assert token_ids.taken == total

        rows = conn.execute("SELECT text, vector FROM chunks ORDER BY id").fetchall()
        stored = engine.semantic.blob_vectors([bytes(r[1]) for r in rows])
        by_text = engine.semantic.encoder.encode_passages([r[0] for r in rows])
        assert float((stored * by_text).sum(1).min()) > 0.999
    finally:
        engine.close()


def test_the_cache_is_bounded_and_forgets() -> None:
    cache = TokenIds(max_bytes=100)
    cache.put([1, 2, 3], [array("H", range(20)), None, array("H", range(30))])
    assert len(cache) == 2
    cache.put([4], [array("H", range(20))])  # 140 bytes: the oldest goes
    assert cache.take(1) is None and cache.take(3) is not None
    cache.forget([4])
    assert len(cache) == 0 and cache.taken == 1


@pytest.fixture(scope="module")
def engine_tokenizer() -> PassageTokenizer:
    from engine.embed.model_dir import resolve_model_dir

    return PassageTokenizer.from_model_dir(resolve_model_dir(""))


