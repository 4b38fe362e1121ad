"""The synthetic large collection for bench/scale.py: real texts replicated, real vectors cached.

Replica 0 of every document of the four shared collections is its real text; replica r > 0
is the same text lightly perturbed (about 4% of words dropped, 4% swapped with the next,
seeded by r), so every passage is distinct but reads like its source. Documents are chunked
by the engine's own chunker. The first `real` passages of the stream (replica 0 of every
document, then replica 1, ...) are embedded with the real model once and cached as .npy
parts under the cache folder; every later passage gets its replica-0 source passage's real
vector plus Gaussian noise, re-normalised, with the noise set so its cosine to the source
matches what real perturbed replicas show (measured on the cached real vectors).
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.config import ChunkConfig, EmbedConfig  # noqa: E402
from engine.extract.base import Extracted  # noqa: E402
from engine.ingest.chunk import Passage, PassageTokenizer, chunk_document  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
COLLECTIONS = ("scifact", "nfcorpus", "cisi", "cranfield")
CACHE = Path("/tmp/scale_cache")
PART = 4096  # passages per cached .npy part


@dataclass(frozen=True)
class Document:
    collection: str
    doc_id: str
    replica: int
    text: str
    passages: list[Passage]


def _load_texts() -> list[tuple[str, str, str]]:
    docs = []
    for name in COLLECTIONS:
        with open(SHARED / name / "corpus.jsonl", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    row = json.loads(line)
                    title, text = row.get("title") or "", row.get("text") or ""
                    body = f"{title}\n\n{text}\n" if title else f"{text}\n"
                    if body.strip():
                        docs.append((name, str(row["_id"]), body))
    return docs


def perturb(text: str, seed: int) -> str:
    """Drop about 4% of the words and swap about 4% with their neighbour."""
    rng = random.Random(seed)
    words = text.split(" ")
    out: list[str] = []
    i = 0
    while i < len(words):
        roll = rng.random()
        if roll < 0.04:
            i += 1
            continue
        if roll < 0.08 and i + 1 < len(words):
            out.extend((words[i + 1], words[i]))
            i += 2
            continue
        out.append(words[i])
        i += 1
    return " ".join(out)


def tokenizer() -> PassageTokenizer:
    from engine.embed.model_dir import resolve_model_dir

    return PassageTokenizer.from_model_dir(resolve_model_dir(None), ChunkConfig().max_tokens)


def documents(passages: int, tok: PassageTokenizer | None = None) -> Iterator[Document]:
    """Documents in stream order until at least `passages` passages have been yielded."""
    tok = tok or tokenizer()
    texts = _load_texts()
    config = ChunkConfig()
    total = 0
    replica = 0
    while total < passages:
        for index, (name, doc_id, body) in enumerate(texts):
            text = body if replica == 0 else perturb(body, replica * 1_000_003 + index)
            chunks = chunk_document(Extracted(text=text, kind="text"), tok, config)
            if not chunks:
                continue
            yield Document(name, doc_id, replica, text, chunks)
            total += len(chunks)
            if total >= passages:
                return
        replica += 1


def _parts(cache: Path) -> list[Path]:
    return sorted((cache / "real").glob("part_*.npy"))


def cached_real(cache: Path = CACHE) -> np.ndarray:
    """The real passage vectors cached so far, in stream order (float32, unit length)."""
    parts = _parts(cache)
    if not parts:
        return np.empty((0, 384), dtype=np.float32)
    return np.concatenate([np.load(p) for p in parts]).astype(np.float32)


def embed_real(count: int, cache: Path = CACHE, log: bool = True) -> np.ndarray:
    """Embed the first `count` passages of the stream with the real model (resumable)."""
    from engine.embed.transformer import load_encoder

    (cache / "real").mkdir(parents=True, exist_ok=True)
    done = sum(int(np.load(p, mmap_mode="r").shape[0]) for p in _parts(cache))
    if done >= count:
        return cached_real(cache)[:count]
    encoder = load_encoder(EmbedConfig(), cache / "model")
    pending: list[str] = []
    seen = 0
    began = time.monotonic()
    for doc in documents(count):
        for passage in doc.passages:
            if seen >= done:
                pending.append(passage.text)
            seen += 1
            if len(pending) == PART or (seen == count and pending):
                vectors = encoder.encode_passages(pending).astype(np.float32)
                np.save(cache / "real" / f"part_{done // PART:05d}.npy", vectors)
                done += len(pending)
                pending = []
                if log:
                    rate = done / max(time.monotonic() - began, 1e-9)
                    print(f"embedded {done}/{count} ({rate:.0f}/s so far)", flush=True)
            if seen >= count:
                break
        if seen >= count:
            break
    return cached_real(cache)[:count]


def query_vectors(cache: Path = CACHE, limit: int = 1000) -> np.ndarray:
    """Real query vectors: the collections' queries, round-robin, embedded once and cached."""
    path = cache / f"queries_{limit}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    from engine.embed.transformer import load_encoder

    texts = query_texts(limit)
    encoder = load_encoder(EmbedConfig(), cache / "model")
    vectors = encoder.encode_queries(texts).astype(np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def query_texts(limit: int) -> list[str]:
    per: list[list[str]] = []
    for name in COLLECTIONS:
        with open(SHARED / name / "queries.jsonl", encoding="utf-8") as handle:
            per.append([json.loads(line)["text"] for line in handle if line.strip()])
    out: list[str] = []
    for i in range(max(len(p) for p in per)):
        out.extend(p[i] for p in per if i < len(p))
    return out[:limit]


def derived(source: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """Source vectors plus Gaussian noise of `noise` per dimension, re-normalised."""
    rng = np.random.default_rng(seed)
    out = source + rng.normal(0.0, noise, size=source.shape).astype(np.float32)
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


if __name__ == "__main__":
    embed_real(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
    query_vectors()
