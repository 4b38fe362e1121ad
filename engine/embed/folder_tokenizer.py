"""The encoder's tokenizer from a BERT folder's tokenizer.json, with `tokenizers` alone.

transformers' AutoTokenizer hands back the same Rust tokenizer, but importing it costs 31 MB
and a second (the engine's main process holds the chunker's copy of tokenizer.json already,
engine/embed/tokenizer_file.py). FolderTokenizer answers the calls the encoder, the
explanations and the load-time checks make of it: truncation at a length that counts the
special tokens, padding on the right to the longest text, offsets and the special-token mask,
lists or torch tensors. It is made only for BERT folders whose tokenizer files declare a BERT
tokenizer padding and truncating on the right; transformers loads any other
(hf_model.load_tokenizer).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.embed.model_dir import read_json
from engine.embed.tokenizer_file import TOKENIZER_FILE

__all__ = ["FolderTokenizer", "load_folder_tokenizer"]

_BERT_TOKENIZERS = (None, "BertTokenizer", "BertTokenizerFast")


def _token_text(value: Any) -> str | None:
    """A special token as tokenizer_config.json or special_tokens_map.json write it."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


class FolderTokenizer:
    """transformers' fast tokenizer as the encoder calls it, from tokenizer.json."""

    padding_side = "right"

    def __init__(self, backend: Any, source: str, pad_token_id: int | None) -> None:
        """`backend` is a Tokenizer of `source`, tokenizer.json's text (kept for copies)."""
        # tokenizer.json may carry its own padding and truncation (the packaged one pads every
        # text to 128): transformers replaces them on every call, and so does this.
        self._source = source
        backend.no_padding()
        backend.no_truncation()
        self.backend_tokenizer = backend
        self.pad_token_id = pad_token_id
        self._cutting: dict[int, Any] = {}  # one truncating copy per length, never changed
        self._lock = threading.Lock()

    def num_special_tokens_to_add(self) -> int:
        processor = self.backend_tokenizer.post_processor
        return 0 if processor is None else int(processor.num_special_tokens_to_add(False))

    def _backend(self, max_length: int | None) -> Any:
        if max_length is None:
            return self.backend_tokenizer
        with self._lock:
            cutting = self._cutting.get(max_length)
            if cutting is None:
                from tokenizers import Tokenizer

                cutting = Tokenizer.from_str(self._source)
                cutting.no_padding()
                cutting.enable_truncation(max_length)
                self._cutting[max_length] = cutting
        return cutting

    def __call__(
        self,
        text: str | Sequence[str],
        *,
        truncation: bool = False,
        max_length: int | None = None,
        padding: bool = False,
        add_special_tokens: bool = True,
        return_attention_mask: bool = True,
        return_offsets_mapping: bool = False,
        return_special_tokens_mask: bool = False,
        return_token_type_ids: bool | None = None,
        return_tensors: str | None = None,
    ) -> dict[str, Any]:
        if truncation and max_length is None:
            raise ValueError("truncation needs max_length here")
        if return_tensors not in (None, "pt"):
            raise ValueError(f"return_tensors={return_tensors!r}: only 'pt' or lists")
        single = isinstance(text, str)
        texts = [text] if isinstance(text, str) else list(text)
        backend = self._backend(max_length if truncation else None)
        encodings = backend.encode_batch(texts, add_special_tokens=add_special_tokens)
        width = max((len(e.ids) for e in encodings), default=0) if padding else 0
        pad = self.pad_token_id if self.pad_token_id is not None else 0
        if return_token_type_ids is None:  # BERT's inputs include them unless told not to
            return_token_type_ids = True
        columns: dict[str, list[Any]] = {"input_ids": []}
        if return_token_type_ids:
            columns["token_type_ids"] = []
        if return_attention_mask:
            columns["attention_mask"] = []
        if return_offsets_mapping:
            columns["offset_mapping"] = []
        if return_special_tokens_mask:
            columns["special_tokens_mask"] = []
        for enc in encodings:
            room = max(0, width - len(enc.ids))
            columns["input_ids"].append(list(enc.ids) + [pad] * room)
            if return_token_type_ids:
                columns["token_type_ids"].append(list(enc.type_ids) + [0] * room)
            if return_attention_mask:
                columns["attention_mask"].append(list(enc.attention_mask) + [0] * room)
            if return_offsets_mapping:
                columns["offset_mapping"].append(list(enc.offsets) + [(0, 0)] * room)
            if return_special_tokens_mask:
                columns["special_tokens_mask"].append(list(enc.special_tokens_mask) + [1] * room)
        if return_tensors == "pt":
            import torch

            return {key: torch.tensor(rows, dtype=torch.long) for key, rows in columns.items()}
        if single:
            return {key: rows[0] for key, rows in columns.items()}
        return columns


def load_folder_tokenizer(path: Path) -> FolderTokenizer | None:
    """The folder's tokenizer without transformers, or None where transformers must make it:
    not a BERT, no tokenizer.json, another tokenizer class, padding or truncation on the left."""
    from tokenizers import Tokenizer

    if not (path / TOKENIZER_FILE).is_file():
        return None
    settings = read_json(path / "tokenizer_config.json")
    if (read_json(path / "config.json").get("model_type") != "bert"
            or settings.get("tokenizer_class") not in _BERT_TOKENIZERS
            or settings.get("padding_side", "right") != "right"
            or settings.get("truncation_side", "right") != "right"):
        return None
    try:
        source = (path / TOKENIZER_FILE).read_text(encoding="utf-8")
        backend = Tokenizer.from_str(source)
    except Exception:  # tokenizers raises its own Exception for a file it cannot read
        return None
    pad = _token_text(settings.get("pad_token")) or _token_text(
        read_json(path / "special_tokens_map.json").get("pad_token"))
    pad_id = backend.token_to_id(pad) if pad is not None else None
    return FolderTokenizer(backend, source, pad_id)
