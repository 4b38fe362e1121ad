"""PlainBert: the packaged BERT built from its safetensors without transformers' modeling code.

It must give transformers' own states and gradients, leave transformers' BERT unimported, and
hand every folder it does not exactly match back to transformers.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.embed import plain_bert
from engine.embed.hf_model import load_model
from engine.embed.model_dir import resolve_model_dir
from engine.embed.plain_bert import PlainBert, load_plain_bert

TEXTS = ["Aspirin lowers the risk of a second heart attack.", "tax return 2023",
         "Gradient descent moves parameters against the gradient of the loss. " * 20]


@pytest.fixture(scope="module")
def models() -> tuple[PlainBert, torch.nn.Module]:
    path = resolve_model_dir("")
    plain = load_model(path)
    assert isinstance(plain, PlainBert)
    return plain, load_model(path, plain=False)


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model_dir("")), local_files_only=True)
    batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=256, return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"]


@pytest.mark.model
def test_plain_bert_gives_transformers_states_with_padding(
    models: tuple[PlainBert, torch.nn.Module],
) -> None:
    plain, hf = models
    assert type(hf).__name__ == "BertModel"
    ids, mask = _batch()
    assert not bool(mask.all())
    real = mask.bool()
    with torch.inference_mode():
        got = plain(input_ids=ids, attention_mask=mask).last_hidden_state
        want = hf(input_ids=ids, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(got[real], want[real], atol=2e-5, rtol=1e-4)


@pytest.mark.model
def test_plain_bert_gradients_match_for_integrated_gradients(
    models: tuple[PlainBert, torch.nn.Module],
) -> None:
    """engine/search/gradients.py calls the model on scaled input embeddings and differentiates."""
    plain, hf = models
    ids, mask = _batch()
    grads = []
    for model in (plain, hf):
        embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
        with torch.enable_grad():
            out = model(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
            (grad,) = torch.autograd.grad(out[:, 0].sum(), embeds)
        grads.append(grad)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-3)


@pytest.mark.model
def test_the_encoder_of_a_bert_folder_never_imports_transformers() -> None:
    """The memory this saves: transformers' BERT costs 122 MB once imported, its tokenizer 31."""
    script = (
        "import sys\n"
        "from engine.config import EmbedConfig\n"
        "from engine.embed.transformer import TransformerEncoder\n"
        "e = TransformerEncoder(EmbedConfig(device='cpu'))\n"
        "assert type(e.model).__name__ == 'PlainBert', type(e.model)\n"
        "assert type(e.tokenizer).__name__ == 'FolderTokenizer', type(e.tokenizer)\n"
        "assert e.encode_passages(['a passage']).shape == (1, e.dim)\n"
        "assert len(e.token_states(['a passage', 'and a longer one'])) == 2\n"
        "print(sorted(m for m in sys.modules if m.startswith('transformers')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def _folder_with(tmp_path: Path, change_weights: object = None, **config: object) -> Path:
    """A copy of the packaged folder with its weights or config.json changed."""
    from safetensors.torch import load_file, save_file

    source = resolve_model_dir("")
    folder = tmp_path / "model"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    weights = load_file(str(source / "model.safetensors"))
    if callable(change_weights):
        change_weights(weights)
    save_file(weights, str(folder / "model.safetensors"))
    settings = json.loads((source / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps({**settings, **config}), encoding="utf-8")
    return folder


@pytest.mark.model
def test_a_head_and_a_bert_prefix_are_fine(tmp_path: Path) -> None:
    def as_task_checkpoint(w: dict[str, torch.Tensor]) -> None:
        for key in list(w):
            w["bert." + key] = w.pop(key)
        w["cls.predictions.bias"] = torch.zeros(30522)

    assert isinstance(load_plain_bert(_folder_with(tmp_path, as_task_checkpoint)), PlainBert)


@pytest.mark.model
@pytest.mark.parametrize("change", ["extra", "missing", "shape"])
def test_weights_it_does_not_match_go_to_transformers(tmp_path: Path, change: str) -> None:
    def edit(w: dict[str, torch.Tensor]) -> None:
        if change == "extra":  # a part this network lacks, e.g. relative position weights
            w["encoder.layer.0.attention.self.distance_embedding.weight"] = torch.zeros(8, 32)
        elif change == "missing":
            del w["encoder.layer.3.output.LayerNorm.bias"]
        else:
            w["encoder.layer.1.intermediate.dense.bias"] = torch.zeros(7)

    folder = _folder_with(tmp_path, edit)
    assert load_plain_bert(folder) is None
    if change == "extra":  # transformers loads it (and ignores the weight it does not know)
        assert type(load_model(folder)).__name__ == "BertModel"


def test_other_activations_and_architectures_are_not_built(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    base = json.loads((resolve_model_dir("") / "config.json").read_text(encoding="utf-8"))
    for config in ({"hidden_act": "gelu_new"}, {"model_type": "roberta"},
                   {"position_embedding_type": "relative_key"}):
        (folder / "config.json").write_text(json.dumps({**base, **config}), encoding="utf-8")
        assert load_plain_bert(folder) is None


@pytest.mark.model
def test_a_network_that_strays_from_the_numpy_forward_is_refused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """The load-time check is real: a network without the norms after its residuals fails it."""
    monkeypatch.setattr(plain_bert._Output, "forward",
                        lambda self, x, residual: self.dense(x) + residual)
    with caplog.at_level(logging.WARNING, logger="engine.embed.plain_bert"):
        assert load_plain_bert(resolve_model_dir("")) is None
    assert "disagrees with the numpy forward" in caplog.text


@pytest.mark.model
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_checkpoints(tmp_path: Path, dtype: torch.dtype) -> None:
    """fp16 weights are built (in fp32); bf16 ones, which the numpy check cannot read, go to
    transformers rather than unchecked."""
    def cast(w: dict[str, torch.Tensor]) -> None:
        for key in list(w):
            w[key] = w[key].to(dtype) if w[key].is_floating_point() else w[key]

    model = load_plain_bert(_folder_with(tmp_path, cast))
    if dtype == torch.float16:
        assert isinstance(model, PlainBert)
        assert model.embeddings.word_embeddings.weight.dtype == torch.float32
    else:
        assert model is None
