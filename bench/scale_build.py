"""Builds bench/scale.py's data dirs through the store's own API, without running the model.

Each document of the stream (bench/scale_corpus.py) is written as a file under the size's
docs folder (one subfolder per collection), and recorded with its passages and their float16
vectors by Store.record_file, as the indexer records a file; the HNSW file is then made by
the engine's own SemanticIndex (engine/search/semantic.py) from the stored vectors, as on a
first start after an upgrade. A stub stands in for the encoder there: nothing is embedded.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.scale_corpus import Document, derived, documents, tokenizer  # noqa: E402
from engine.config import ChunkConfig, ensure_data_dir, load_config  # noqa: E402
from engine.ingest.checks import bounded_digest  # noqa: E402
from engine.ingest.chunk import passage_limit  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.store.database import ChunkRow  # noqa: E402

MODEL_NAME, MODEL_DIM = "all-MiniLM-L6-v2", 384


class StubEncoder:
    """Only the name and dimension SemanticIndex checks; it is never asked to embed."""

    name, dim = MODEL_NAME, MODEL_DIM

    def encode_passages(self, texts: Any) -> Any:
        raise AssertionError("the scale build embeds nothing")

    encode_queries = encode_passages


def calibrate_noise(real: np.ndarray, pairs: list[tuple[int, int, int]]) -> tuple[float, float]:
    """Noise per dimension that makes a derived vector's cosine to its source match the mean
    cosine of real replica-1 passages to their replica-0 ones (documents cut into as many
    passages in both, passage by passage); and that cosine."""
    cosines = [float(np.sum(real[a : a + n] * real[b : b + n], axis=1).mean()) * n
               for a, b, n in pairs]
    count = sum(n for _, _, n in pairs)
    if count < 100:
        return 0.012, float("nan")  # too few real replicas cached: about cos 0.97
    cos = min(max(sum(cosines) / count, 0.8), 0.999)
    return float(np.sqrt((1 / cos**2 - 1) / MODEL_DIM)), cos


def build(size: int, real: np.ndarray, root: Path, reuse: bool, log: bool = True) -> Path:
    """The data dir for `size` passages, built once; `reuse` keeps one built before."""
    label = size_label(size)
    data, docs = root / f"data-{label}", root / f"docs-{label}"
    done = data / "scale-build.json"
    if reuse and done.exists():
        return data
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(docs, ignore_errors=True)
    ensure_data_dir(data)
    timings: dict[str, float] = {}
    began = time.monotonic()
    store = Store.open_in(data)
    folder_id = store.pin_folder(str(docs))
    tok = tokenizer()
    with store.transaction():
        # What the indexer records once it has chunked at these sizes: without it, the engine
        # would chunk every file again at start (engine/ingest/indexer.py).
        chunking = ChunkConfig()
        store.set_meta("passage_sizes",
                       f"{passage_limit(tok, chunking)}/{chunking.overlap_tokens}")
    columns = {str(r[1]) for r in store.conn.execute("PRAGMA table_info(chunks)")}
    sources: dict[tuple[str, str], tuple[int, int]] = {}
    pairs: list[tuple[int, int, int]] = []  # replica 0 and 1 of a document, both real
    noise, cos = 0.0, float("nan")
    passage = 0
    for doc in documents(size, tok):
        key = (doc.collection, doc.doc_id)
        count = len(doc.passages)
        if doc.replica == 0:
            sources[key] = (passage, count)
        elif doc.replica == 1 and passage + count <= len(real) and sources[key][1] == count:
            pairs.append((sources[key][0], passage, count))
        if passage + count > len(real) and not noise:
            noise, cos = calibrate_noise(real, pairs)  # before the first derived vector
        vectors = _vectors_for(doc, passage, real, sources.get(key), noise)
        _record(store, folder_id, docs, doc, vectors, "digest" in columns)
        passage += len(doc.passages)
        if log and passage // 50_000 != (passage - len(doc.passages)) // 50_000:
            print(f"  recorded {passage:,} passages", flush=True)
    store.close()
    timings["record_s"] = time.monotonic() - began
    began = time.monotonic()
    from engine.search.semantic import SemanticIndex

    store = Store.open_in(data)
    semantic = SemanticIndex(store, StubEncoder(), data, load_config(data).index)  # type: ignore[arg-type]
    semantic.close()
    store.close()
    timings["hnsw_s"] = time.monotonic() - began
    done.write_text(json.dumps({"passages": passage, "real": min(len(real), passage),
                                "noise": noise, "replica_cosine": cos, **timings}))
    return data


def size_label(size: int) -> str:
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def _vectors_for(
    doc: Document, first: int, real: np.ndarray, source: tuple[int, int] | None, noise: float
) -> np.ndarray:
    count = len(doc.passages)
    if first + count <= len(real):
        return real[first : first + count]
    rows = []
    for i in range(count):
        if first + i < len(real):
            rows.append(real[first + i][None, :])
            continue
        if source is not None and source[0] + source[1] <= len(real):
            src = real[source[0] + min(i, source[1] - 1)]
        else:
            src = real[(first + i) % len(real)]
        rows.append(derived(src[None, :], noise, seed=first + i))
    return np.concatenate(rows)


def _record(store: Store, folder_id: int, docs: Path, doc: Document, vectors: np.ndarray,
            with_digest: bool) -> None:
    from engine.search.semantic import to_blob

    path = docs / doc.collection / f"r{doc.replica}" / f"{_safe(doc.doc_id)}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc.text, encoding="utf-8")
    st = path.stat()
    chunks = [ChunkRow(p.ordinal, p.start, p.end, p.page, p.heading, p.text)
              for p in doc.passages]
    extra: list[dict[str, Any]] = [{"vector": to_blob(v)} for v in vectors]
    if with_digest:
        from engine.store.digest import text_digest

        for column, p in zip(extra, doc.passages, strict=True):
            column["digest"] = text_digest(p.text)
    store.record_file(folder_id=folder_id, path=str(path), size=st.st_size, mtime=st.st_mtime,
                      hash=bounded_digest(path, st), kind="text", state="indexed",
                      chunks=chunks, extra_columns=extra)


def _safe(doc_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in doc_id)[:100] or "doc"
