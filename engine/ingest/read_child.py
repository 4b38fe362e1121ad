"""What an extraction child runs for indexing: extract a file and cut its text into passages.

Tokenizing is the indexing process's largest cost after extraction (python3-doc: 12 of 31 s
of the main thread, py-spy), so the child that extracts a file also cuts it, beside the other
children; the indexing process only records. A file with picture pages is returned uncut:
OCR changes its text, and the parent cuts the result.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from engine.config import ChunkConfig
from engine.extract import Extracted
from engine.extract.known_members import KnownMembers, extract_with_known
from engine.extract.scanned import pages_needing_ocr
from engine.ingest.chunk import PassageTokenizer, chunk_document

_tokenizers: dict[tuple[str, int | None], PassageTokenizer] = {}


@dataclass(frozen=True)
class ReadRequest:
    source: Path | KnownMembers  # an archive goes with its members' recorded digests
    model_dir: str  # the tokenizer's folder
    chunk: ChunkConfig
    timeout_seconds: float  # extraction and chunking share it, as in the indexing process


def read_and_cut(request: ReadRequest, max_bytes: int) -> Extracted:
    """The child's target: the file extracted, with `cut` set unless OCR is due."""
    started = time.monotonic()
    doc = extract_with_known(request.source, max_bytes)
    if pages_needing_ocr(doc):
        return doc
    key = (request.model_dir, request.chunk.max_tokens)
    tokenizer = _tokenizers.get(key)
    if tokenizer is None:
        tokenizer = PassageTokenizer.from_model_dir(Path(request.model_dir), key[1])
        _tokenizers[key] = tokenizer
    deadline = started + request.timeout_seconds
    passages = chunk_document(doc, tokenizer, request.chunk, deadline=deadline)
    return dataclasses.replace(
        doc, cut=tuple((p.start, p.end) for p in passages), cut_ids=tuple(p.ids for p in passages)
    )
