"""The encoders: vectors like sentence-transformers', fast paths guarded, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.config import EmbedConfig
from engine.embed import transformer as transformer_module
from engine.embed.base import Encoder
from engine.embed.calibration import CACHE_FILE_NAME, min_cosine
from engine.embed.device import Placement, choose_placement, cpu_bf16_unit, int8_runtime_installed
from engine.embed.hashing import HashingEncoder
from engine.embed.model_dir import ModelNotFoundError, resolve_model_dir
from engine.embed.threads import FIRST_INTERVAL, ThreadTuner
from engine.embed.transformer import TransformerEncoder, load_encoder

TEXTS = [
    "Aspirin lowers the risk of a second heart attack.",
    "how do I reset my router",
    "",
    "Le chat dort sur le canapé.",
    "Gradient descent moves parameters against the gradient of the loss. " * 30,
    "tax return 2023",
]


def rowwise_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(
        np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    )


@pytest.fixture(scope="module")
def fp32() -> TransformerEncoder:
    # torch's own fp32: the reference every faster path is held to.
    return TransformerEncoder(EmbedConfig(device="cpu", precision="fp32", runtime="torch"))


@pytest.fixture(scope="module")
def bf16_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def bf16(bf16_cache: Path) -> TransformerEncoder:
    # Forced, so the guard runs on any CPU; auto picks bf16 only with bf16 units.
    return TransformerEncoder(EmbedConfig(device="cpu", precision="bf16"), bf16_cache)


# --- HashingEncoder ------------------------------------------------------------------


def test_hashing_encoder_is_deterministic_and_normalised() -> None:
    encoder = HashingEncoder(dim=64)
    first = encoder.encode_passages(["red apples and green pears", "", "tax return"])
    again = HashingEncoder(dim=64).encode_passages(["red apples and green pears", "", "tax return"])
    assert first.shape == (3, 64) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert np.linalg.norm(first[0]) == pytest.approx(1.0, abs=1e-6)
    assert not first[1].any()  # no words, no direction
    assert encoder.passages_encoded == 3
    assert isinstance(encoder, Encoder)


def test_hashing_encoder_same_words_are_similar() -> None:
    encoder = HashingEncoder(dim=256)
    a, b, c = encoder.encode_queries(
        ["the quick brown fox", "quick brown fox jumps", "invoice payment overdue"]
    )
    assert float(a @ b) > float(a @ c)
    assert encoder.passages_encoded == 0


# --- device and precision choice (no model) ------------------------------------------


def test_auto_precision_follows_the_hardware() -> None:
    placement = choose_placement("cpu", "auto")
    no_units = "int8" if int8_runtime_installed() else "fp32"
    assert placement.precision == ("bf16" if cpu_bf16_unit() else no_units)
    assert not placement.forced
    forced = choose_placement("cpu", "fp32")
    assert forced.precision == "fp32" and forced.forced
    assert forced.describe() == "CPU fp32"


def test_placement_describe() -> None:
    assert Placement("cpu", "bf16", False, "AMX").describe() == "CPU bf16 (AMX)"
    gpu = Placement("cuda", "fp16", False, "NVIDIA H100")
    assert gpu.describe() == "CUDA fp16, NVIDIA H100"


def run_tuner(tuner: ThreadTuner, seconds_per_batch: dict[int, float], batches: int) -> list[int]:
    used = []
    for _ in range(batches):
        threads = tuner.threads_for_next_batch(2048)
        tuner.record(threads, 2048, seconds_per_batch[threads])
        used.append(threads)
    return used


def test_thread_tuner_moves_to_fewer_threads_when_they_are_faster() -> None:
    tuner = ThreadTuner(4)
    assert tuner.candidates == [4, 2, 1]
    used = run_tuner(tuner, {4: 1.0, 2: 0.8, 1: 0.25}, 40)
    assert tuner.current == 1 and used[-20:].count(1) >= 15


def test_thread_tuner_keeps_the_fastest_and_backs_off() -> None:
    tuner = ThreadTuner(2)
    used = run_tuner(tuner, {2: 0.1, 1: 0.2}, 200)
    assert tuner.current == 2
    trials = used.count(1)
    assert 2 <= trials <= 200 // FIRST_INTERVAL // 2  # trials get rarer while 2 keeps winning
    assert ThreadTuner(1).threads_for_next_batch(4096) == 1


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no Hugging Face model folder"):
        load_encoder(EmbedConfig(model_path=str(tmp_path / "nowhere")))


def test_folder_without_weights_is_a_clear_error(tmp_path: Path) -> None:
    source = resolve_model_dir("")
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    with pytest.raises(ModelNotFoundError, match="weights"):
        load_encoder(EmbedConfig(model_path=str(tmp_path), precision="fp32"))


def test_unknown_pooling_is_rejected() -> None:
    with pytest.raises(ValueError, match="pooling"):
        TransformerEncoder(EmbedConfig(pooling="max"))


# --- the real model ------------------------------------------------------------------


@pytest.mark.model
def test_shape_dtype_normalisation_and_order(fp32: TransformerEncoder) -> None:
    vectors = fp32.encode_passages(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    reversed_vectors = fp32.encode_passages(TEXTS[::-1])
    np.testing.assert_allclose(reversed_vectors[::-1], vectors, atol=1e-5)
    one = fp32.encode_passages([TEXTS[4]])[0]
    np.testing.assert_allclose(one, vectors[4], atol=1e-5)
    assert fp32.encode_queries([]).shape == (0, 384)
    assert fp32.name == "all-MiniLM-L6-v2" and fp32.dim == 384 and fp32.max_tokens == 256
    assert isinstance(fp32, Encoder)


@pytest.mark.model
def test_passage_counter(fp32: TransformerEncoder) -> None:
    before = fp32.passages_encoded
    fp32.encode_passages(TEXTS[:3])
    fp32.encode_queries(TEXTS[:2])
    assert fp32.passages_encoded == before + 3


@pytest.mark.model
def test_matches_sentence_transformers(fp32: TransformerEncoder) -> None:
    st = pytest.importorskip("sentence_transformers")
    reference = st.SentenceTransformer(str(fp32.path), device="cpu").encode(TEXTS)
    assert min_cosine(reference, fp32.encode_passages(TEXTS)) > 0.999
    assert fp32.precision == "fp32" and fp32.describe() == "CPU fp32"


@pytest.mark.model
def test_bf16_agrees_with_fp32(fp32: TransformerEncoder, bf16: TransformerEncoder) -> None:
    assert bf16.precision == "bf16" and bf16.precision_note == ""
    assert bf16.describe().startswith("CPU bf16")
    assert min_cosine(fp32.encode_passages(TEXTS), bf16.encode_passages(TEXTS)) >= 0.999


@pytest.mark.model
def test_precision_check_is_cached(bf16: TransformerEncoder, bf16_cache: Path) -> None:
    assert bf16.verdict is not None and not bf16.verdict.from_cache
    saved = json.loads((bf16_cache / CACHE_FILE_NAME).read_text())
    [(key, entry)] = saved.items()
    assert "all-MiniLM-L6-v2" in key and "bf16" in key and entry["passed"] is True
    again = TransformerEncoder(EmbedConfig(device="cpu", precision="bf16"), bf16_cache)
    assert again.verdict is not None and again.verdict.from_cache
    assert again.verdict.min_cosine == bf16.verdict.min_cosine


@pytest.mark.model
def test_failed_precision_check_falls_back_to_fp32(
    fp32: TransformerEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        transformer_module, "choose_placement", lambda d, p: Placement("cpu", "bf16", False, "")
    )
    monkeypatch.setattr(transformer_module, "MIN_COSINE", 1.5)  # nothing can pass
    encoder = TransformerEncoder(EmbedConfig(runtime="torch"))
    assert encoder.precision == "fp32"
    assert "using fp32" in encoder.precision_note and "using fp32" in encoder.describe()
    # Reloaded, not cast back from bf16: exactly the fp32 vectors.
    np.testing.assert_allclose(
        encoder.encode_passages(TEXTS), fp32.encode_passages(TEXTS), atol=1e-5
    )


@pytest.fixture(scope="module")
def cls_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged model with its pooling config switched to CLS (weights symlinked)."""
    source = resolve_model_dir("")
    folder = tmp_path_factory.mktemp("cls-model")
    for item in source.iterdir():
        if item.is_file():
            (folder / item.name).symlink_to(item)
    (folder / "1_Pooling").mkdir()
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_cls_token=True, pooling_mode_mean_tokens=False)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return folder


@pytest.mark.model
def test_pooling_comes_from_the_folder_or_the_config(
    fp32: TransformerEncoder, cls_folder: Path
) -> None:
    assert fp32.pooling == "mean"
    from_folder = TransformerEncoder(EmbedConfig(model_path=str(cls_folder), precision="fp32"))
    assert from_folder.pooling == "cls"
    overridden = TransformerEncoder(EmbedConfig(pooling="cls", precision="fp32"))
    assert overridden.pooling == "cls"
    vectors = overridden.encode_passages(TEXTS)
    np.testing.assert_allclose(from_folder.encode_passages(TEXTS), vectors, atol=1e-5)
    # CLS pooling is the first token's normalised state.
    cls_states = np.stack([s.hidden[0] for s in fp32.token_states(TEXTS)])
    cls_states /= np.linalg.norm(cls_states, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, cls_states, atol=1e-4)
    assert rowwise_cosine(vectors, fp32.encode_passages(TEXTS)).max() < 0.99


@pytest.mark.model
def test_token_states_give_offsets_into_the_original_text() -> None:
    encoder = TransformerEncoder(
        EmbedConfig(precision="fp32", query_prefix="query: ", passage_prefix="passage: ")
    )
    text = "Hello, wonderful world!"
    [states] = encoder.token_states([text], kind="query")
    assert states.hidden.shape == (len(states.offsets), 384)
    assert states.hidden.dtype == np.float32
    pieces = zip(states.offsets, states.special_mask, strict=True)
    words = [text[s:e].lower() for (s, e), special in pieces if not special]
    assert "".join(w.removeprefix("##") for w in words) == "hello,wonderfulworld!"
    # [CLS], the prefix's word pieces and [SEP] are not the text's own.
    assert states.special_mask[0] and states.special_mask[-1] and sum(states.special_mask) >= 4
    assert len(encoder.token_states([text, "short"], kind="passage")) == 2
    assert rowwise_cosine(encoder.encode_queries([text]), encoder.encode_passages([text]))[0] < 1
    with pytest.raises(ValueError, match="kind"):
        encoder.token_states([text], kind="document")


def test_padding_groups_cover_every_row_once_and_cut_padding() -> None:
    from engine.embed.transformer import GROUP_OVERHEAD_TOKENS, padding_groups

    lengths = [256, 40, 250, 38, 255, 41, 120]
    groups = padding_groups(lengths)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))

    def cost(gs: list[list[int]]) -> int:
        return sum(GROUP_OVERHEAD_TOKENS + len(g) * max(lengths[i] for i in g) for g in gs)

    assert cost(groups) < cost([list(range(len(lengths)))])  # beats one padded batch
    assert padding_groups([100] * 5) == [[0, 1, 2, 3, 4]]  # equal lengths: one call
    assert padding_groups([]) == []


# --- lean BERT forward -----------------------------------------------------------------


@pytest.mark.model
def test_lean_forward_gives_the_models_own_states(fp32: TransformerEncoder) -> None:
    assert fp32._fast is not None  # MiniLM is a plain BERT: the lean path is on
    batch = fp32.tokenizer(TEXTS, padding=True, truncation=True, max_length=fp32.max_tokens,
                           return_token_type_ids=False, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert not bool(mask.all())  # padding, so the masked kernel is exercised too
    with torch.inference_mode():
        lean = fp32._fast(ids, mask)
        alone = fp32._fast(ids[:1, : int(mask[0].sum())], mask[:1, : int(mask[0].sum())])
    fast, fp32._fast = fp32._fast, None
    try:
        own = fp32._forward(ids, mask)
    finally:
        fp32._fast = fast
    real = mask.bool()
    np.testing.assert_allclose(lean[real].numpy(), own[real].numpy(), atol=1e-5)
    np.testing.assert_allclose(alone[0].numpy(), own[0][real[0]].numpy(), atol=1e-5)


@pytest.mark.model
def test_lean_forward_that_disagrees_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transformer_module, "FAST_MIN_COSINE", 1.5)  # nothing can pass
    encoder = TransformerEncoder(EmbedConfig(device="cpu", precision="fp32"))
    assert encoder._fast is None
    assert encoder.encode_queries(["still works"]).shape == (1, encoder.dim)


def test_lean_forward_only_claims_plain_bert() -> None:
    from types import SimpleNamespace

    from engine.embed.bert_fast import supports

    def model(**config: object) -> SimpleNamespace:
        base = {"model_type": "bert", "position_embedding_type": "absolute",
                "hidden_act": "gelu", "is_decoder": False}
        return SimpleNamespace(config=SimpleNamespace(**(base | config)), embeddings=1,
                               encoder=1)

    assert supports(model())
    assert not supports(model(model_type="roberta"))
    assert not supports(model(position_embedding_type="relative_key"))
    assert not supports(model(hidden_act="gelu_new"))
    assert not supports(SimpleNamespace())
