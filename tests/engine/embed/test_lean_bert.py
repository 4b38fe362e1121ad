"""The lean numpy query forward and tokenizer.json alone: the same vectors and cuts as before."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from engine.config import ChunkConfig, EmbedConfig
from engine.embed.calibration import CALIBRATION_TEXTS, MIN_COSINE, min_cosine
from engine.embed.lean_bert import LeanQueryEncoder, supported
from engine.embed.model_dir import resolve_model_dir
from engine.extract.base import Extracted
from engine.ingest.chunk import PassageTokenizer, chunk_document

PYTHON_DOCS = Path("/usr/share/doc/python3.11/html/_sources")
QUERIES = ["how do I read a file line by line", "", "asyncio event loop", "tax return 2023",
           "Le chat dort sur le canapé.", "word " * 400]


@pytest.mark.model
def test_lean_queries_match_the_full_encoder_in_fp32() -> None:
    from engine.embed.transformer import TransformerEncoder

    full = TransformerEncoder(EmbedConfig(device="cpu", precision="fp32"))
    lean = LeanQueryEncoder(resolve_model_dir(""), EmbedConfig())
    texts = [*QUERIES, *CALIBRATION_TEXTS]
    got, want = lean.encode_queries(texts), full.encode_queries(texts)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert min_cosine(want, got) > 0.99999  # the same arithmetic, in another order
    assert min_cosine(want, got) >= MIN_COSINE
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)


def test_lean_path_needs_no_torch_and_refuses_other_folders(tmp_path: Path) -> None:
    assert supported(resolve_model_dir(""))
    assert not supported(tmp_path)  # no config.json, no weights
    (tmp_path / "config.json").write_text('{"model_type": "roberta"}')
    assert not supported(tmp_path)
    with pytest.raises(ValueError):
        LeanQueryEncoder(tmp_path, EmbedConfig())
    if "torch" not in sys.modules:  # alone in its process it must not have pulled torch in
        LeanQueryEncoder(resolve_model_dir(""), EmbedConfig()).encode_queries(["x"])
        assert "torch" not in sys.modules


def _documents() -> list[str]:
    texts = [p.read_text(encoding="utf-8", errors="surrogateescape")
             for p in sorted(PYTHON_DOCS.rglob("*.txt"))[:40]] if PYTHON_DOCS.is_dir() else []
    texts.append("Gradient descent moves parameters against the gradient. " * 300)
    texts.append("東京は日本の首都です。" * 200 + " naïve café résumé " * 50)
    return texts


def test_tokenizer_json_alone_cuts_passages_exactly_as_transformers_did() -> None:
    """The engine reads tokenizer.json with `tokenizers` (no transformers, no torch); its
    passages must be the ones AutoTokenizer gave, offsets included."""
    from transformers import AutoTokenizer

    path = resolve_model_dir("")
    plain = PassageTokenizer.from_model_dir(path)
    via_hf = PassageTokenizer(AutoTokenizer.from_pretrained(str(path)), plain.max_tokens)
    assert plain.n_special == via_hf.n_special and plain.splits_at_spaces == via_hf.splits_at_spaces
    config = ChunkConfig()
    for text in _documents():
        doc = Extracted(text, "text")
        assert chunk_document(doc, plain, config) == chunk_document(doc, via_hf, config)
