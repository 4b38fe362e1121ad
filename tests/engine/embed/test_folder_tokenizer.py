"""FolderTokenizer: the encoder's calls of its tokenizer, answered as AutoTokenizer answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from engine.embed.folder_tokenizer import FolderTokenizer, load_folder_tokenizer
from engine.embed.hf_model import load_tokenizer, special_ids
from engine.embed.model_dir import resolve_model_dir

PYTHON_DOCS = Path("/usr/share/doc/python3.11/html/_sources")
TEXTS = [
    "Aspirin lowers the risk of a second heart attack.", "", " ", "tax return 2023",
    "Le chat dort sur le canapé, naïve café résumé.", "東京は日本の首都です。" * 30,
    "Ünïcödé\u00a0spaces\u2003and\ttabs\nand lines", "emoji 🙂 and \u200b zero width",
    "word " * 600, "CamelCaseIdentifiers_and-snake_case, 3.14159e-10 ≥ 0",
    "control \x00\x07 chars", "[CLS] [SEP] [PAD] literal special tokens",
]


def _texts() -> list[str]:
    docs = [p.read_text(encoding="utf-8", errors="replace")[:3000]
            for p in sorted(PYTHON_DOCS.rglob("*.txt"))[:60]] if PYTHON_DOCS.is_dir() else []
    return TEXTS + docs


@pytest.fixture(scope="module")
def pair() -> tuple[FolderTokenizer, object]:
    path = resolve_model_dir("")
    ours = load_tokenizer(path)
    assert isinstance(ours, FolderTokenizer)
    return ours, load_tokenizer(path, plain=False)


def test_the_encoders_calls_get_transformers_answers(pair: tuple[FolderTokenizer, object]) -> None:
    ours, hf = pair
    assert type(hf).__name__ != "FolderTokenizer"
    assert ours.pad_token_id == hf.pad_token_id  # type: ignore[attr-defined]
    assert ours.padding_side == hf.padding_side  # type: ignore[attr-defined]
    assert ours.num_special_tokens_to_add() == hf.num_special_tokens_to_add()  # type: ignore[attr-defined]
    assert special_ids(ours) == special_ids(hf)
    texts = _texts()
    calls: list[dict[str, object]] = [
        # TransformerEncoder._encode
        {"truncation": True, "max_length": 256, "return_attention_mask": False,
         "return_token_type_ids": False},
        # TransformerEncoder.token_states
        {"truncation": True, "max_length": 256, "padding": True, "return_offsets_mapping": True,
         "return_special_tokens_mask": True, "return_token_type_ids": False},
        {"truncation": True, "max_length": 16, "padding": True, "return_token_type_ids": False},
        # the prefix's ids
        {"add_special_tokens": False},
    ]
    for kwargs in calls:
        want = dict(hf(texts, **kwargs))  # type: ignore[operator]
        got = ours(texts, **kwargs)  # type: ignore[arg-type]
        assert got.keys() == want.keys(), kwargs
        for key in want:
            rows = [[tuple(x) if isinstance(x, list | tuple) else x for x in row]
                    for row in want[key]]
            assert [[tuple(x) if isinstance(x, list | tuple) else x for x in row]
                    for row in got[key]] == rows, (kwargs, key)
    assert ours("query: ", add_special_tokens=False) == dict(
        hf("query: ", add_special_tokens=False))  # type: ignore[operator]


def test_tensors_as_explanations_and_tests_ask_for_them(
    pair: tuple[FolderTokenizer, object],
) -> None:
    ours, hf = pair
    for texts, padding in (([TEXTS[0]], False), (TEXTS, True)):
        kwargs = {"truncation": True, "max_length": 64, "padding": padding,
                  "return_offsets_mapping": True, "return_special_tokens_mask": True,
                  "return_tensors": "pt"}
        want = hf(texts, **kwargs)  # type: ignore[operator]
        got = ours(texts, **kwargs)  # type: ignore[arg-type]
        for key in ("input_ids", "attention_mask", "offset_mapping", "special_tokens_mask"):
            assert torch.equal(got[key], want[key]), key


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(resolve_model_dir(""), folder,
                    ignore=shutil.ignore_patterns("model.safetensors"))
    return folder


@pytest.mark.parametrize("change", [
    {"tokenizer_class": "RobertaTokenizer"}, {"padding_side": "left"},
    {"truncation_side": "left"},
])
def test_other_tokenizers_are_left_to_transformers(tmp_path: Path, change: dict[str, str]) -> None:
    folder = _copy(tmp_path)
    assert isinstance(load_folder_tokenizer(folder), FolderTokenizer)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, **change}))
    assert load_folder_tokenizer(folder) is None


def test_no_tokenizer_json_or_not_a_bert_is_left_to_transformers(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    assert load_folder_tokenizer(folder) is None
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").unlink()
    assert load_folder_tokenizer(folder) is None
    assert type(load_tokenizer(folder)).__name__ != "FolderTokenizer"  # vocab.txt still does
