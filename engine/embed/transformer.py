"""Runs a local Hugging Face encoder the way sentence-transformers does, only faster on CPUs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import torch

from engine.config import EmbedConfig
from engine.embed import bert_fused
from engine.embed.base import Encoder, Vectors
from engine.embed.batching import (
    GROUP_OVERHEAD_TOKENS,
    WIDTH_STEP,
    forward_batches,
    padding_groups,
)
from engine.embed.bert_fast import FastBert, supports
from engine.embed.bert_fused import FusedBert
from engine.embed.calibration import (
    CALIBRATION_TEXTS,
    MIN_COSINE,
    Verdict,
    VerdictCache,
    cache_key,
    min_cosine,
)
from engine.embed.cpu_runtime import choose_openvino, wants_openvino
from engine.embed.device import Placement, apply_cpu_isa, choose_placement, torch_dtype
from engine.embed.hf_model import load_model as _load_model
from engine.embed.hf_model import load_tokenizer as _load_tokenizer
from engine.embed.hf_model import special_ids as _special_ids
from engine.embed.model_dir import read_model_info, resolve_model_dir
from engine.embed.threads import ThreadTuner, limit_blas_threads, pinned_threads

log = logging.getLogger(__name__)
__all__ = ["GROUP_OVERHEAD_TOKENS", "TransformerEncoder", "load_encoder", "padding_groups"]
Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (ids, mask) -> states

# Word pieces per forward pass on a CPU. Measured on 2 Zen 5 cores with bf16 weights: 4 to 8
# passages of 256 tokens ran ~20k tokens/s, 32 of them ~14k, as activations outgrow the cache.
CPU_TOKENS_PER_BATCH = 2048
POOLINGS = ("mean", "cls")
SMALL_BATCH_TOKENS = 256
# The lean BERT forward must give the model's own vectors to this cosine on calibration texts
# (bf16 rounding alone leaves it above 0.9999).
FAST_MIN_COSINE = 0.9995
# torch's own default (one per core) or what the program set before importing this module.
BASE_THREADS = torch.get_num_threads()


class TokenStates(NamedTuple):
    """Last-layer states of one text's tokens, before pooling, for explanations."""

    hidden: npt.NDArray[np.float32]  # (n_tokens, dim)
    offsets: list[tuple[int, int]]  # character spans in the original text; (0, 0) if none
    special_mask: list[bool]  # True for special tokens and prefix tokens: not the text's own


class TransformerEncoder:
    """A local encoder folder, on the fastest device and number format that stays accurate."""

    def __init__(
        self, config: EmbedConfig, cache_dir: Path | None = None, *, fused: bool = True
    ) -> None:
        """`fused=False` keeps FastBert even where FusedBert would pass (for comparisons)."""
        if config.pooling not in ("auto", *POOLINGS):
            raise ValueError(f"unknown embed pooling {config.pooling!r}; use auto, mean or cls")
        if config.batch_size < 1:
            raise ValueError("embed batch_size must be at least 1")
        self.config = config
        self.path = resolve_model_dir(config.model_path)
        info = read_model_info(self.path)
        self.name = info.name
        self.max_tokens = info.max_tokens
        self.pooling = config.pooling if config.pooling != "auto" else (info.pooling or "mean")
        # A folder's Normalize module is part of the model; the index wants unit vectors anyway.
        self.normalize = bool(info.normalize) or config.normalize
        self.passages_encoded = 0
        self._serial = threading.Lock()
        self.width_step = WIDTH_STEP  # 1 pads CPU batches as before buckets (for comparisons)

        apply_cpu_isa(config.cpu_isa)  # before oneDNN first runs: it reads its cap once
        limit_blas_threads()
        placement = choose_placement(config.device, config.precision)
        if placement.device == "cuda" and hasattr(torch.backends.cuda, "enable_cudnn_sdp"):
            # cuDNN's attention builds a graph for every new input shape, and passages come in
            # every length: on an H100 each attention call then took 5.6 ms, and explaining
            # ten results 177 ms instead of 53 (bench/explain_latency.py). Flash and
            # memory-efficient attention have no such cost.
            torch.backends.cuda.enable_cudnn_sdp(False)
        self.tokenizer = _load_tokenizer(self.path)
        self._pad_id = int(self.tokenizer.pad_token_id or 0)
        self._n_special = int(self.tokenizer.num_special_tokens_to_add())
        self._special_ids = _special_ids(self.tokenizer)
        self._model: Any = _load_model(self.path).to(placement.device)
        self.dim = int(self._model.config.hidden_size)
        # The lean forward (FastBert, or OpenVINO's), set once the precision is settled.
        self._fast: Forward | None = None
        self._tuner: ThreadTuner | None = None  # not during the load-time checks below
        self.side_by_side = False  # nor side by side
        self.device = placement.device
        self.precision = "fp32"
        self.precision_note = ""
        self.verdict: Verdict | None = None
        self.runtime = "torch"
        if wants_openvino(config.runtime, self.device, self._model, placement.precision):
            torch_fast = self._checked_fast_path()
            if isinstance(torch_fast, FastBert):
                self._use_openvino(torch_fast, placement, cache_dir)
        if self.runtime == "torch":
            if placement.precision == "int8":  # int8 is OpenVINO's; torch's measured worse
                self.precision_note = "int8 runs through OpenVINO only; not here"
                placement = Placement(self.device, "bf16" if placement.hardware else "fp32",
                                      False, placement.hardware)
            if placement.precision != "fp32":
                self._lower_precision(placement, cache_dir)
            self._fast = self._checked_fast_path(fuse=fused)
        self._placement = Placement(self.device, self.precision, placement.forced,
                                    placement.hardware)
        # Made after the checks: their batches are a few short texts, whose timings would
        # mislead the tuner into one thread (explanations then ran 230 ms instead of 145).
        # OpenVINO keeps its own threads (TBB), which a busy core does not stall the same way.
        # Pinned threads (engine/embed/threads.py) may call torch on a CPU side by side.
        self.side_by_side = placement.device == "cpu" and self.runtime == "torch"
        self._tuner = ThreadTuner(BASE_THREADS) if self.side_by_side else None
        log.info("encoder %s: %s", self.name, self.describe())

    @property
    def model(self) -> Any:
        """The torch module, for attribution methods that need gradients."""
        return self._model

    def describe(self) -> str:
        text = self._placement.describe()
        if self.runtime != "torch":
            text = f"{text}, OpenVINO"
        return f"{text}, {self.precision_note}" if self.precision_note else text

    def encode_passages(self, texts: Sequence[str]) -> Vectors:
        vectors = self._encode(texts, self.config.passage_prefix)
        self.passages_encoded += len(texts)
        return vectors

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, self.config.query_prefix)

    def encode_passage_ids(self, ids: Sequence[Sequence[int]]) -> Vectors:
        """encode_passages() from word-piece ids the chunker already has: each row is one
        passage's ids without special tokens (PassageTokenizer's, same model folder). The
        passage prefix, [CLS] and [SEP] are added here and long rows cut at max_tokens, so the
        vectors equal encode_passages() on the texts whenever the prefix ends at a word break.
        """
        prefix = self._prefix_ids(self.config.passage_prefix)
        room = max(0, self.max_tokens - self._n_special - len(prefix))
        head, tail = self._special_ids
        rows = [[*head, *prefix, *list(r)[:room], *tail] for r in ids]
        vectors = self._encode_ids(rows)
        self.passages_encoded += len(ids)
        return vectors

    def token_states(self, texts: Sequence[str], kind: str = "passage") -> list[TokenStates]:
        """Per-token last-layer states from one batched forward pass, with text offsets."""
        if kind not in ("passage", "query"):
            raise ValueError(f"kind must be 'passage' or 'query', not {kind!r}")
        if not texts:
            return []
        prefix = self.config.passage_prefix if kind == "passage" else self.config.query_prefix
        # Plain lists, not tensors: BatchEncoding's tensor conversion walks every offset pair
        # in Python, which cost more than the arithmetic of the whole explanation.
        enc = self.tokenizer(
            [prefix + t for t in texts],
            truncation=True,
            max_length=self.max_tokens,
            padding=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_token_type_ids=False,
        )
        ids = torch.tensor(enc["input_ids"], dtype=torch.long)
        mask = torch.tensor(enc["attention_mask"], dtype=torch.long)
        lengths = mask.sum(1).tolist()
        hidden_rows: list[np.ndarray] = [np.empty(0)] * len(texts)
        groups = padding_groups(lengths)
        if self.tokenizer.padding_side != "right":  # cutting columns assumes right padding
            groups, lengths = [list(range(len(texts)))], [ids.shape[1]] * len(texts)
        for group in groups:
            width = max(lengths[i] for i in group)
            rows = torch.tensor(group)
            group_ids, group_mask = ids[rows, :width], mask[rows, :width]
            if self._tuner is not None:
                tokens = int(group_mask.sum())
                small = tokens < SMALL_BATCH_TOKENS
                # The tuner's current choice, never a trial: an explanation is waited for.
                torch.set_num_threads(1 if small else self._tuner.current)
            states = self._forward(group_ids, group_mask).float().cpu().numpy()
            for position, row in enumerate(group):
                hidden_rows[row] = states[position]
        result: list[TokenStates] = []
        cut = len(prefix)
        masks = np.asarray(enc["attention_mask"], dtype=bool)
        all_offsets = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(len(texts), -1, 2)
        all_special = np.asarray(enc["special_tokens_mask"], dtype=bool)
        for row in range(len(texts)):
            keep = masks[row]
            spans = all_offsets[row][keep]
            outside = all_special[row][keep] | (spans[:, 1] <= cut)
            spans = np.where(outside[:, None], 0, np.maximum(spans - cut, 0))
            states = hidden_rows[row][keep[: len(hidden_rows[row])]]
            result.append(TokenStates(
                states.astype(np.float32, copy=False),
                [(int(a), int(b)) for a, b in spans.tolist()],
                outside.tolist(),
            ))
        return result

    # --- internals -------------------------------------------------------------------

    def _prefix_ids(self, prefix: str) -> list[int]:
        if not prefix:
            return []
        found: list[int] = self.tokenizer(prefix, add_special_tokens=False)["input_ids"]
        return found

    def _use_openvino(self, torch_fast: FastBert, placement: Placement,
                      cache_dir: Path | None) -> None:
        def encode_with(forward: Any) -> Vectors:
            self._fast = forward if forward is not None else torch_fast
            try:
                return self._encode(CALIBRATION_TEXTS, "")
            finally:
                self._fast = torch_fast

        choice = choose_openvino(torch_fast, placement, self.name, self.path, cache_dir,
                                 BASE_THREADS, encode_with)
        if choice.forward is None:
            self.precision_note = choice.note
            return  # the torch path below takes over, with its own precision check
        self._fast, self.runtime = choice.forward, "openvino"
        self.precision, self.precision_note, self.verdict = (
            choice.precision, choice.note, choice.verdict
        )

    def _lower_precision(self, placement: Placement, cache_dir: Path | None) -> None:
        """Switch to bf16/fp16 when its vectors agree with fp32 on the calibration set."""
        wanted = placement.precision
        cache = VerdictCache(cache_dir)
        key = cache_key(self.name, self.path, self.device, placement.hardware, wanted)
        verdict = cache.get(key)
        if verdict is None:
            reference = self._encode(CALIBRATION_TEXTS, "")
            self._model.to(torch_dtype(wanted))
            candidate = self._encode(CALIBRATION_TEXTS, "")
            cosine = min_cosine(reference, candidate)
            verdict = Verdict(cosine, cosine >= MIN_COSINE, from_cache=False)
            cache.put(key, verdict)
            log.info("%s vs fp32 on %d texts: min cosine %.5f", wanted, len(reference), cosine)
        elif verdict.passed or placement.forced:
            self._model.to(torch_dtype(wanted))
        self.verdict = verdict

        if verdict.passed:
            self.precision = wanted
            return
        cosine = verdict.min_cosine
        failed = f"{wanted} disagreed with fp32 (min cosine {cosine:.4f} < {MIN_COSINE})"
        if placement.forced:
            self.precision = wanted
            self.precision_note = f"{failed}; kept because the config asks for {wanted}"
        else:
            self.precision_note = f"{failed}; using fp32"
            if not verdict.from_cache:  # a cast back would keep the rounding: reload instead
                self._model = _load_model(self.path).to(self.device)
        log.warning("encoder %s: %s", self.name, self.precision_note)

    def _checked_fast_path(self, fuse: bool = False) -> Forward | None:
        """The lean forward for this model, if it has one that agrees with the model's own;
        with `fuse`, FusedBert over it where oneDNN has its fused linear and it agrees too."""
        if not supports(self._model):
            return None
        texts = CALIBRATION_TEXTS[:8]
        reference = self._encode(texts, "")
        fast = FastBert(self._model)
        candidates: list[Forward] = [fast]
        if fuse and bert_fused.available(fast):
            try:
                candidates.insert(0, FusedBert(fast))
            except RuntimeError as exc:  # oneDNN refused to reorder the weights
                log.warning("FusedBert unavailable (%s): using FastBert", exc)
        for candidate in candidates:
            self._fast = candidate
            try:
                cosine = min_cosine(reference, self._encode(texts, ""))
            except RuntimeError as exc:  # a oneDNN that refuses a shape or format
                log.warning("%s failed (%s): trying the next", type(candidate).__name__, exc)
                continue
            finally:
                self._fast = None
            if cosine >= FAST_MIN_COSINE:
                return candidate
            log.warning("%s disagrees with the model's forward (min cosine %.5f)",
                        type(candidate).__name__, cosine)
        log.warning("no lean forward agrees: using the model's")
        return None

    def _encode(self, texts: Sequence[str], prefix: str) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids: list[list[int]] = self.tokenizer(
            [prefix + t for t in texts],
            truncation=True,
            max_length=self.max_tokens,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        return self._encode_ids(ids)

    def _encode_ids(self, ids: list[list[int]]) -> Vectors:
        """Rows of ids with special tokens, in any order; vectors in that order."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        pinned = pinned_threads()
        if pinned is not None and self.side_by_side:
            torch.set_num_threads(pinned)  # per thread; the forward keeps no state between calls
            for rows, batch_ids, batch_mask in self._batches(ids):
                out[rows] = self._pool(self._forward(batch_ids, batch_mask), batch_mask)
            return out
        with self._serial:  # the tuner, OpenVINO's one request and a GPU take turns
            for rows, batch_ids, batch_mask in self._batches(ids):
                self._tuned_batch(out, rows, batch_ids, batch_mask)
        return out

    def _tuned_batch(self, out: Vectors, rows: Any, ids: torch.Tensor, mask: torch.Tensor) -> None:
        tokens = ids.numel()
        threads = 0
        if self._tuner is not None:
            threads = self._tuner.threads_for_next_batch(tokens)
            # A query or a short passage gains nothing from a second thread, and on a
            # busy machine an OpenMP thread that lost its core makes it 30x slower
            # (740 ms instead of 20 ms for one query on 2 cores with one taken).
            torch.set_num_threads(1 if tokens < SMALL_BATCH_TOKENS else threads)
        started = time.perf_counter()
        out[rows] = self._pool(self._forward(ids, mask), mask)
        if self._tuner is not None:
            self._tuner.record(threads, tokens, time.perf_counter() - started)

    def _batches(
        self, ids: list[list[int]]
    ) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
        """Longest first, as in encode(); on a CPU in few shapes (batching.forward_batches),
        elsewhere padded only to each batch's own longest text."""
        lengths = [len(x) for x in ids]
        if self.device == "cpu":
            plan = forward_batches(lengths, CPU_TOKENS_PER_BATCH, self.config.batch_size,
                                   self.max_tokens, self.width_step)
        else:
            order = sorted(range(len(ids)), key=lambda i: -lengths[i])
            size = self.config.batch_size
            plan = [(order[s : s + size], lengths[order[s]]) for s in range(0, len(ids), size)]
        for rows, width in plan:
            batch = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                batch[i, : lengths[row]] = ids[row]
                mask[i, : lengths[row]] = 1
            yield rows, torch.from_numpy(batch), torch.from_numpy(mask)

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            if self._fast is not None:
                return self._fast(ids.to(self.device), mask.to(self.device))
            output = self._model(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
            )
        hidden: torch.Tensor = output.last_hidden_state
        return hidden

    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> Vectors:
        with torch.inference_mode():
            states = hidden.float()  # pool in fp32: a bf16 sum over 256 tokens loses digits
            if self.pooling == "cls":
                pooled = states[:, 0]
            else:
                weights = mask.to(states.device, torch.float32).unsqueeze(-1)
                pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            if self.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            result: Vectors = pooled.cpu().numpy().astype(np.float32, copy=False)
        return result


def load_encoder(config: EmbedConfig, cache_dir: Path | None = None) -> Encoder:
    """The encoder the config asks for; raises ModelNotFoundError for a missing folder."""
    return TransformerEncoder(config, cache_dir)
