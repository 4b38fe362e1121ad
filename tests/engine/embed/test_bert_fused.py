"""FusedBert: the lean forward's states with oneDNN's fused linear, or FastBert when not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import EmbedConfig
from engine.embed import bert_fused
from engine.embed.bert_fast import FastBert
from engine.embed.bert_fused import FusedBert
from engine.embed.calibration import CALIBRATION_TEXTS, min_cosine
from engine.embed.transformer import TransformerEncoder

TEXTS = ["Aspirin lowers the risk of a second heart attack.", "tax return 2023", "",
         "Gradient descent moves parameters against the gradient of the loss. " * 30]


@pytest.fixture(scope="module")
def fused() -> TransformerEncoder:
    return TransformerEncoder(EmbedConfig(device="cpu", precision="fp32", runtime="torch"))


def _batch(encoder: TransformerEncoder) -> tuple[torch.Tensor, torch.Tensor]:
    batch = encoder.tokenizer(TEXTS, padding=True, truncation=True, return_tensors="pt",
                              max_length=encoder.max_tokens, return_token_type_ids=False)
    return batch["input_ids"], batch["attention_mask"]


def _fused_ops_or_skip(encoder: TransformerEncoder) -> FastBert:
    fast = FastBert(encoder.model)
    if not bert_fused.available(fast):
        pytest.skip("this torch has no oneDNN fused linear")
    return fast


@pytest.mark.model
def test_fused_forward_is_chosen_and_gives_the_lean_forwards_states(
    fused: TransformerEncoder,
) -> None:
    if not bert_fused.available(FastBert(fused.model)):
        pytest.skip("this torch has no oneDNN fused linear")
    assert isinstance(fused._fast, FusedBert)
    ids, mask = _batch(fused)
    assert not bool(mask.all())  # padding: the additive mask is exercised
    with torch.inference_mode():
        got, want = fused._fast(ids, mask), fused._fast.fast(ids, mask)
    real = mask.bool()
    np.testing.assert_allclose(got[real].numpy(), want[real].numpy(), atol=1e-4)


@pytest.mark.model
@pytest.mark.parametrize("padded", [True, False])
def test_attention_as_matrix_products_gives_sdpas_states(
    fused: TransformerEncoder, padded: bool
) -> None:
    fast = _fused_ops_or_skip(fused)
    ids, mask = _batch(fused)
    if not padded:  # every row as long as the batch: no mask at all
        ids, mask = ids[3:], mask[3:]
    assert bool(mask.all()) is not padded
    products, sdpa = FusedBert(fast, matmul_attention=True), FusedBert(fast, matmul_attention=False)
    with torch.inference_mode():
        got, want = products(ids, mask), sdpa(ids, mask)
    real = mask.bool()
    np.testing.assert_allclose(got[real].numpy(), want[real].numpy(), atol=1e-4)
    assert not np.allclose(got[real].numpy(), 0)


@pytest.mark.parametrize(
    ("unit", "dtype", "wins"),
    [("AVX512-BF16", torch.bfloat16, True), ("AMX", torch.bfloat16, False),
     ("AVX512-BF16", torch.float32, False), ("", torch.float32, False)],
)
def test_attention_by_products_only_where_it_measured_faster(
    monkeypatch: pytest.MonkeyPatch, unit: str, dtype: torch.dtype, wins: bool
) -> None:
    monkeypatch.setattr(bert_fused, "cpu_bf16_unit", lambda: unit)
    assert bert_fused.matmul_attention_wins(dtype) is wins


@pytest.mark.model
@pytest.mark.parametrize("matmul_attention", [True, False])
def test_fused_forward_in_bf16_agrees_with_fp32(
    fused: TransformerEncoder, matmul_attention: bool
) -> None:
    fast = _fused_ops_or_skip(fused)
    bf16 = FusedBert(FastBert(TransformerEncoder(
        EmbedConfig(device="cpu", precision="fp32", runtime="torch"), fused=False
    ).model.to(torch.bfloat16)), matmul_attention=matmul_attention)
    ids, mask = _batch(fused)
    with torch.inference_mode():
        got, want = bf16(ids, mask).float(), fast(ids, mask)
    weights = mask[..., None].float()
    pooled = [((s * weights).sum(1) / weights.sum(1)).numpy() for s in (got, want)]
    assert min_cosine(pooled[1], pooled[0]) > 0.9995


@pytest.mark.model
def test_without_fused_ops_the_encoder_keeps_fastbert(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bert_fused, "available", lambda fast: False)
    encoder = TransformerEncoder(EmbedConfig(device="cpu", precision="fp32", runtime="torch"))
    assert type(encoder._fast) is FastBert


@pytest.mark.model
@pytest.mark.parametrize("fault", ["disagrees", "raises"])
def test_a_fused_forward_that_fails_its_check_is_not_used(
    monkeypatch: pytest.MonkeyPatch, fused: TransformerEncoder, fault: str
) -> None:
    def broken(self: FusedBert, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if fault == "raises":
            raise RuntimeError("could not create a primitive")
        return torch.randn(*ids.shape, self.fast.hidden)

    want = fused.encode_passages(CALIBRATION_TEXTS[:8])  # before FusedBert is broken
    monkeypatch.setattr(bert_fused, "available", lambda fast: True)
    monkeypatch.setattr(FusedBert, "__init__", lambda self, fast: setattr(self, "fast", fast))
    monkeypatch.setattr(FusedBert, "__call__", broken)
    encoder = TransformerEncoder(EmbedConfig(device="cpu", precision="fp32", runtime="torch"))
    assert type(encoder._fast) is FastBert
    assert min_cosine(want, encoder.encode_passages(CALIBRATION_TEXTS[:8])) > 0.99999


@pytest.mark.model
def test_bucketed_batches_give_each_texts_own_vector(fused: TransformerEncoder) -> None:
    """Padding to a width bucket and the tail's row counts change no vector."""
    texts = [*TEXTS, *CALIBRATION_TEXTS]
    together = fused.encode_passages(texts)
    alone = np.concatenate([fused.encode_passages([t]) for t in texts])
    assert min_cosine(alone, together) > 0.99999
