"""Loads a Hugging Face encoder folder's tokenizer and torch model, offline, with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from engine.embed.model_dir import ModelNotFoundError

__all__ = ["load_model", "load_tokenizer", "special_ids"]


def load_tokenizer(path: Path, *, plain: bool = True) -> Any:
    """The folder's tokenizer: a BERT folder's tokenizer.json through `tokenizers` alone
    (folder_tokenizer.py, without importing transformers), else transformers' AutoTokenizer.
    `plain=False` always takes transformers' (for comparisons)."""
    if plain:
        from engine.embed.folder_tokenizer import load_folder_tokenizer

        tokenizer = load_folder_tokenizer(path)
        if tokenizer is not None:
            return tokenizer
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"cannot load the tokenizer in {path}: {exc}") from exc


def special_ids(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special tokens a single text gets before and after it ([CLS] and [SEP] in BERT)."""
    probe = tokenizer("a", return_special_tokens_mask=True)
    ids, special = probe["input_ids"], probe["special_tokens_mask"]
    first, last = special.index(0), len(special) - special[::-1].index(0)
    return [int(i) for i in ids[:first]], [int(i) for i in ids[last:]]


def load_model(path: Path, *, plain: bool = True) -> Any:
    """The folder's encoder in fp32, eval mode: a plain BERT without transformers' modeling
    code where plain_bert.py builds and checks one (122 MB less), else transformers' own.
    `plain=False` always takes transformers' (for comparisons)."""
    if plain:
        from engine.embed.plain_bert import load_plain_bert

        model = load_plain_bert(path)
        if model is not None:
            return model
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no bars on our terminal

    try:
        try:
            model = AutoModel.from_pretrained(
                str(path), local_files_only=True, attn_implementation="sdpa"
            )
        except ValueError:  # an architecture without SDPA support: its own attention is fine
            model = AutoModel.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"cannot load the model weights in {path}: {exc}") from exc
    # fp32 whatever the checkpoint holds (transformers 5 keeps a checkpoint's own dtype):
    # the reduced-precision paths are judged against it.
    return model.to(torch.float32).eval()
