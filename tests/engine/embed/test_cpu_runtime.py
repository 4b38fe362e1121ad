"""The CPU runtimes: OpenVINO paths guarded against fp32, the no-bf16 switch, encoding from ids."""

from __future__ import annotations

import gc
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.config import ConfigError, EmbedConfig, parse_config
from engine.embed import cpu_runtime, device, openvino_forward
from engine.embed.calibration import CACHE_FILE_NAME, min_cosine
from engine.embed.device import DeviceUnavailableError, Placement, apply_cpu_isa, cpu_bf16_unit
from engine.embed.transformer import TransformerEncoder
from tests.helpers.fresh_process import in_fresh_process, run_in_fresh_process
from tests.helpers.signal_stack import disable_alternate_stack, unmapped_alternate_stack

TEXTS = [
    "Aspirin lowers the risk of a second heart attack.",
    "how do I reset my router",
    "",
    "Le chat dort sur le canapé.",
    "Gradient descent moves parameters against the gradient of the loss. " * 30,
    "tax return 2023",
]
needs_openvino = pytest.mark.skipif(not openvino_forward.available(), reason="no openvino")
needs_int8 = pytest.mark.skipif(
    not (openvino_forward.available() and openvino_forward.int8_available()),
    reason="int8 needs openvino and nncf",
)


def test_config_switches_parse() -> None:
    config = parse_config(
        '[embed]\nprecision = "int8"\nruntime = "openvino"\ncpu_isa = "no-bf16"\n'
    )
    assert (config.embed.precision, config.embed.runtime, config.embed.cpu_isa) == (
        "int8", "openvino", "no-bf16"
    )
    defaults = EmbedConfig()
    assert (defaults.precision, defaults.runtime, defaults.cpu_isa) == ("auto", "auto", "auto")
    with pytest.raises(ConfigError, match="cpu_isa must be str"):
        parse_config("[embed]\ncpu_isa = 1\n")


def test_unknown_switch_values_are_rejected() -> None:
    with pytest.raises(DeviceUnavailableError, match="cpu_isa"):
        apply_cpu_isa("avx9000")
    with pytest.raises(DeviceUnavailableError, match="runtime"):
        cpu_runtime.wants_openvino("tensorrt", "cpu", object(), "auto")


def test_no_bf16_switch_hides_bf16_units_and_caps_onednn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A copy of the environment and of the flag, both restored after the test.
    environ = {k: v for k, v in os.environ.items() if k != device.ISA_ENV}
    monkeypatch.setattr(os, "environ", environ)
    monkeypatch.setattr(device, "_no_bf16", False)
    apply_cpu_isa("auto")
    assert device.ISA_ENV not in environ
    apply_cpu_isa("no-bf16")
    assert cpu_bf16_unit() == ""
    # Without bf16 units: int8 where the int8 extra is installed, else fp32.
    wanted = "int8" if device.int8_runtime_installed() else "fp32"
    assert device.choose_placement("cpu", "auto").precision == wanted
    assert environ[device.ISA_ENV] in ("AVX2", "AVX2_VNNI")


def test_auto_takes_int8_without_bf16_units_only_where_openvino_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(device, "cpu_bf16_unit", lambda: "")
    monkeypatch.setattr(device, "int8_runtime_installed", lambda: True)
    placement = device.choose_placement("cpu", "auto")
    assert (placement.precision, placement.forced) == ("int8", False)
    monkeypatch.setattr(device, "int8_runtime_installed", lambda: False)
    assert device.choose_placement("cpu", "auto").precision == "fp32"
    monkeypatch.setattr(device, "cpu_bf16_unit", lambda: "AMX")
    assert device.choose_placement("cpu", "auto").precision == "bf16"  # bf16 units: torch's


def test_candidates_fall_back_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openvino_forward, "int8_available", lambda: True)
    assert cpu_runtime.candidates(Placement("cpu", "int8", True, "AMX")) == [
        "int8", "bf16", "fp32"
    ]
    assert cpu_runtime.candidates(Placement("cpu", "int8", True, "")) == ["int8", "fp32"]
    assert cpu_runtime.candidates(Placement("cpu", "bf16", False, "AMX")) == ["bf16", "fp32"]
    assert cpu_runtime.candidates(Placement("cpu", "fp32", True, "AMX")) == ["fp32"]
    monkeypatch.setattr(openvino_forward, "int8_available", lambda: False)
    assert cpu_runtime.candidates(Placement("cpu", "int8", True, "AMX")) == ["bf16", "fp32"]


# --- the real model ------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference() -> TransformerEncoder:
    return TransformerEncoder(EmbedConfig(device="cpu", precision="fp32", runtime="torch"))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


# Each OpenVINO Core loads its own CPU plugin, which installs its own alternate signal stack on
# the calling thread and, when freed, unmaps it and puts back the one it found. A fallback holds
# the int8 plugin while the next one starts, so the order breaks: once both are freed, this
# thread's alternate stack is unmapped memory, and the next signal with a Python handler (all of
# them use SA_ONSTACK) kills the process with SIGSEGV, faulthandler silent too. (OpenVINO
# 2026.4, intel_cpu SigAltStackSetup.) Hence the fallback runs in a fresh process, and a test
# here that leaves the trap fails itself instead of a later test's signal ending the run.


@pytest.fixture(autouse=True)
def _alternate_stack_left_mapped() -> Iterator[None]:
    yield
    if in_fresh_process():
        return  # no later test: the child ends here
    gc.collect()  # the plugins go when their encoders do
    problem = unmapped_alternate_stack()
    if problem:
        disable_alternate_stack()  # so that the rest of the run survives
        pytest.fail(f"{problem}: OpenVINO plugins freed out of order")


@pytest.mark.model
@needs_openvino
def test_openvino_agrees_with_fp32(reference: TransformerEncoder, cache: Path) -> None:
    # The default runs OpenVINO only for int8, which auto takes on a CPU without bf16 units.
    default = TransformerEncoder(EmbedConfig(device="cpu"))
    assert default.runtime == ("openvino" if default.precision == "int8" else "torch")
    del default  # freed before the next plugin starts: see above
    precision = "bf16" if cpu_bf16_unit() else "fp32"
    encoder = TransformerEncoder(
        EmbedConfig(device="cpu", precision=precision, runtime="openvino"), cache
    )
    assert encoder.runtime == "openvino" and encoder.describe().endswith("OpenVINO")
    assert encoder.precision == precision
    vectors = encoder.encode_passages(TEXTS)
    assert min_cosine(reference.encode_passages(TEXTS), vectors) >= 0.999
    np.testing.assert_allclose(np.linalg.norm(vectors[[0, 1, 3, 4, 5]], axis=1), 1, atol=1e-5)
    # Sorted into batches, then back in input order.
    np.testing.assert_allclose(encoder.encode_passages(TEXTS[::-1])[::-1], vectors, atol=1e-5)
    assert list((cache / "openvino").glob("*-fp32.xml"))  # converted once, then read back


@pytest.mark.model
@needs_int8
def test_int8_is_kept_when_it_agrees(reference: TransformerEncoder, cache: Path) -> None:
    encoder = TransformerEncoder(EmbedConfig(device="cpu", precision="int8"), cache)
    assert encoder.precision == "int8" and encoder.precision_note == ""
    assert encoder.verdict is not None
    assert encoder.verdict.min_cosine >= cpu_runtime.INT8_MIN_COSINE
    assert min_cosine(reference.encode_passages(TEXTS), encoder.encode_passages(TEXTS)) >= 0.99


@pytest.mark.model
@needs_int8
def test_int8_falls_back_when_agreement_fails(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(cpu_runtime._THRESHOLDS, "int8", 1.5)  # nothing can pass
    folder = cache / "failing"
    encoder = TransformerEncoder(EmbedConfig(device="cpu", precision="int8"), folder)
    fallback = "bf16" if cpu_bf16_unit() else "fp32"
    assert encoder.precision == fallback and encoder.runtime == "openvino"
    assert "int8 disagreed with fp32" in encoder.precision_note
    assert f"using {fallback}" in encoder.describe()
    saved = json.loads((folder / CACHE_FILE_NAME).read_text())
    [int8_entry] = [v for k, v in saved.items() if "int8 openvino" in k]
    assert int8_entry["passed"] is False
    # The cached verdict is used next time: no int8 graph is even compiled.
    monkeypatch.setattr(openvino_forward.OpenVinoForward, "__init__", _refuse_int8)
    again = TransformerEncoder(EmbedConfig(device="cpu", precision="int8"), folder)
    assert again.precision == fallback and "int8 disagreed" in again.precision_note


@pytest.mark.model
@needs_int8
def test_signals_are_still_handled_after_a_fallen_back_encoder_is_freed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if run_in_fresh_process(request):  # a failure here is a SIGSEGV
        return
    monkeypatch.setitem(cpu_runtime._THRESHOLDS, "int8", 1.5)
    encoder = TransformerEncoder(EmbedConfig(device="cpu", precision="int8"), tmp_path)
    assert "int8 disagreed with fp32" in encoder.precision_note
    del encoder
    gc.collect()
    assert unmapped_alternate_stack() == ""
    handled: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: handled.append(signum))
    try:
        signal.raise_signal(signal.SIGALRM)  # to this thread, where the plugins were made
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert handled == [signal.SIGALRM]


_real_init = openvino_forward.OpenVinoForward.__init__


def _refuse_int8(self: openvino_forward.OpenVinoForward, *args: object) -> None:
    assert args[3] != "int8", "a failed int8 verdict was not taken from the cache"
    _real_init(self, *args)  # type: ignore[arg-type]


@pytest.mark.model
@pytest.mark.parametrize("runtime", ["torch", "openvino"])
@pytest.mark.parametrize("prefix", ["", "passage: "])
def test_encoding_from_ids_equals_encoding_texts(
    runtime: str, prefix: str, passage_tokenizer: object, cache: Path
) -> None:
    if runtime == "openvino" and not openvino_forward.available():
        pytest.skip("no openvino")
    encoder = TransformerEncoder(
        EmbedConfig(device="cpu", runtime=runtime, passage_prefix=prefix), cache
    )
    # The chunker's ids: its own copy of the tokenizer, no special tokens, no truncation.
    backend = passage_tokenizer._backend  # type: ignore[attr-defined]
    ids = [backend.encode(text, add_special_tokens=False).ids for text in TEXTS]
    assert len(ids[4]) > encoder.max_tokens  # cut as the texts are
    before = encoder.passages_encoded
    from_ids = encoder.encode_passage_ids(ids)
    np.testing.assert_allclose(from_ids, encoder.encode_passages(TEXTS), atol=1e-6)
    assert encoder.passages_encoded == before + 2 * len(TEXTS)
    assert encoder.encode_passage_ids([]).shape == (0, encoder.dim)
