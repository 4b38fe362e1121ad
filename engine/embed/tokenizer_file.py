"""A model folder's tokenizer.json read with `tokenizers` alone, so chunking never imports torch.

transformers' AutoTokenizer pulls in most of transformers (and, through it, torch) just to
hand back the same Rust tokenizer; the engine's main process cuts passages with this instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TOKENIZER_FILE = "tokenizer.json"


class TokenizerFile:
    """What PassageTokenizer needs of a Hugging Face fast tokenizer: its backend, and how
    many special tokens it adds to one sequence."""

    def __init__(self, backend: Any) -> None:
        self.backend_tokenizer = backend

    def num_special_tokens_to_add(self) -> int:
        processor = self.backend_tokenizer.post_processor
        return 0 if processor is None else int(processor.num_special_tokens_to_add(False))


def load_tokenizer_file(path: Path) -> TokenizerFile | None:
    """The folder's tokenizer.json, or None when it has none (transformers must build one)."""
    from tokenizers import Tokenizer

    file = path / TOKENIZER_FILE
    if not file.is_file():
        return None
    return TokenizerFile(Tokenizer.from_file(str(file)))
