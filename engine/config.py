"""Settings: one TOML file loaded into frozen dataclasses, one section per stage."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import platformdirs

from engine.private_files import private_dir, tighten_tree

APP_NAME = "dowse"
DATA_DIR_ENV = "DOWSE_DATA_DIR"
CONFIG_FILE_NAME = "config.toml"


class ConfigError(ValueError):
    """The configuration file is unreadable or holds a bad value."""


@dataclass(frozen=True)
class ExtractConfig:
    max_file_mb: float = 50.0
    # Per-file limit for extraction and chunking; extraction runs in a child process killed
    # when it overruns.
    timeout_seconds: float = 60.0
    # The extraction child's address space (RLIMIT_AS): a file that needs more fails alone
    # instead of swapping the machine. 0 means no limit.
    max_memory_mb: float = 2048.0
    # Extraction children reading (and cutting into passages) files side by side, while the
    # indexing process records them; 0: one per CPU core, at most 4.
    workers: int = 0

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def max_memory_bytes(self) -> int | None:
        return int(self.max_memory_mb * 1024 * 1024) if self.max_memory_mb > 0 else None


@dataclass(frozen=True)
class OcrConfig:
    """Reading images and scanned PDF pages with Tesseract (engine/extract/ocr.py)."""

    # On wherever Tesseract is installed; without it images are skipped with that reason.
    enabled: bool = True
    # Tesseract language codes, read together ("eng", "deu", "fra", ...); each needs its
    # data installed (Debian: tesseract-ocr-deu). Those missing are left out, with a warning.
    languages: tuple[str, ...] = ("eng",)
    # Larger images are skipped with a reason rather than read.
    max_image_megapixels: float = 50.0
    # A scanned file is read in runs this long; the pages read so far are searchable after
    # each run and the file goes back in the queue, so one huge scan never blocks the rest.
    seconds_per_run: float = 30.0
    # Tesseract threads per page; 0 means one (its OpenMP threads spin on a busy machine).
    threads: int = 0


@dataclass(frozen=True)
class WalkConfig:
    skip_hidden: bool = True
    honour_gitignore: bool = True
    # Lock files, minified code, source maps and search indexes (engine/ingest/generated.py)
    # are skipped with a reason; false indexes them as ordinary text.
    skip_generated: bool = True
    # gitignore-style patterns, matched against paths relative to each pinned folder.
    exclude: tuple[str, ...] = (
        "node_modules/",
        "__pycache__/",
        "venv/",
        "build/",
        "dist/",
        "target/",
        "*.egg-info/",
        "site-packages/",
    )
    # Secrets never get indexed by default; a user who really wants them can edit this list.
    secrets: tuple[str, ...] = (
        ".ssh/",
        ".gnupg/",
        ".password-store/",
        "*.pem",
        "*.key",
        "*.p12",
        "*.pfx",
        "*.kdbx",
        ".env",
        ".env.*",
        ".netrc",
        ".pgpass",
        "id_rsa*",
        "id_dsa*",
        "id_ecdsa*",
        "id_ed25519*",
    )


@dataclass(frozen=True)
class ChunkConfig:
    # Word pieces per passage including special tokens, capped by the model's own limit (None:
    # that limit). 128 is what all-MiniLM-L6-v2 was trained on; its semantic nDCG@10 on
    # SciFact is 0.684 at 128 against 0.654 at 256, and explaining a top 10 costs half.
    max_tokens: int | None = 128
    overlap_tokens: int = 32


@dataclass(frozen=True)
class EmbedConfig:
    # A local Hugging Face encoder folder; empty means the packaged all-MiniLM-L6-v2.
    model_path: str = ""
    device: str = "auto"  # auto | cpu | cuda | mps
    # auto | fp32 | bf16 | fp16 | int8. auto: fp16 on CUDA, bf16 on a CPU with bf16 units,
    # else fp32. int8 runs on CPUs through OpenVINO and is kept only while it agrees with fp32
    # (engine/embed/cpu_runtime.py); otherwise the encoder falls back, with a log line.
    precision: str = "auto"
    # CPU runtime: auto | torch | openvino. auto: torch, except int8, which only OpenVINO runs
    # (the `int8` extra; plain BERT models). torch's bf16 measured faster than OpenVINO's on a
    # quiet AMX machine (BENCHMARKS.md "embed-runtimes").
    runtime: str = "auto"
    # auto | no-bf16. no-bf16 takes the path of a CPU without bf16 units (most laptops) even
    # on one that has them: no bf16, oneDNN capped at AVX2 with VNNI (ONEDNN_MAX_CPU_ISA).
    # Meant for measuring that path here; it must be set before the encoder first loads.
    cpu_isa: str = "auto"
    batch_size: int = 32
    pooling: str = "auto"  # auto | mean | cls
    normalize: bool = True
    query_prefix: str = ""
    passage_prefix: str = ""
    # The engine embeds in a child process (engine/serve/embed_child.py) that exits after
    # this many seconds without a request, taking the model's memory with it, and starts
    # again on the next query (about half a second). 0 keeps it running.
    idle_exit_seconds: float = 300.0


@dataclass(frozen=True)
class IndexConfig:
    m: int = 32
    ef_construction: int = 200
    # 0.99 recall@10 even on isotropic random 384-d vectors (20k), about 4 ms a query here.
    ef: int = 1024
    # Up to this many passages a search scores every vector (about 1 ms at 20,000) instead of
    # walking the graph: HNSW's search stops where its best `ef` so far are all nearer than
    # the next step, and a flood of near-alike passages (a log of 2,000 nearly equal lines)
    # can fill those with poor matches while a far cluster holds the best one. In the hostile
    # folder that lost garden.txt (cosine 0.12) to growing.log (0.015) at ef 1,024.
    exact_below: int = 20_000
    # Past `reduce_from` passages the graph holds each vector projected on this many
    # principal directions (0: full vectors always), and a search rescores its best
    # `rescore` candidates (at least 3 per result wanted) exactly from the stored vectors;
    # the projection is refitted, and the graph rebuilt at the next start, once the index
    # has grown `refit_growth` times (engine/vectors/compact.py, bench/vector_memory_study.py).
    reduced_dim: int = 128
    # The projected graph's M: at 128 dimensions M=16 kept recall@10 (0.9923 against 0.9926
    # at M=32, pool 300) at 660 bytes a passage against 788 (BENCHMARKS.md, vector-memory).
    reduced_m: int = 16
    reduce_from: int = 20_000
    rescore: int = 300
    # The pool grows with the index (or the passages a filter allows), to
    # `rescore_per_million` candidates a million passages when that is more than `rescore`:
    # the denser the index, the more passages sit within the projection's error of the 10th
    # best. At 1M passages 128 dimensions rescored from the best 300 kept recall@10 at 0.968,
    # from the best 800 at 0.988, for 3.5 ms of SQLite reads a query against 1.5; 100k keeps
    # 300 (0.996) (BENCHMARKS.md, "rescore-depth").
    rescore_per_million: int = 800
    refit_growth: float = 4.0


@dataclass(frozen=True)
class SearchConfig:
    default_mode: str = "hybrid"
    k: int = 10
    candidates: int = 100
    # From this many passages a keyword index (engine/store/keyword_index.py) is kept beside
    # FTS5 and rebuilt when the queue drains: FTS5 scores every match of a query's common
    # words, 0.4 to 0.6 s at a million passages. Below it FTS5 answers in tens of ms, and the
    # file would cost about 550 bytes a passage of disk for little.
    keyword_index_min: int = 250_000


@dataclass(frozen=True)
class WatchConfig:
    # Quiet time before a burst of file events is handled as one batch.
    debounce_seconds: float = 0.5
    # A full reconcile scan of every pinned folder runs this often (and at start-up), to
    # catch events the OS dropped.
    reconcile_minutes: float = 10.0
    # How often a folder watched by polling (no inotify watches left) is checked.
    poll_seconds: float = 5.0
    # The HNSW file is saved at most this often while indexing, and when the queue drains;
    # what was removed meanwhile is purged from the data dir then (engine/ingest/forget.py).
    checkpoint_seconds: float = 30.0


@dataclass(frozen=True)
class ServeConfig:
    # `dowse search` with no engine running starts one in the background and asks it, so the
    # next search is quick. ($DOWSE_SEARCH_STARTS_ENGINE=0 turns this off too.)
    search_starts_engine: bool = True
    # An engine started that way exits after this many seconds with no request, no client
    # connected and nothing to index. 0 keeps it running.
    background_idle_exit_seconds: float = 1800.0


@dataclass(frozen=True)
class LogConfig:
    # Debug logging: the engine's and the app's logs also record search queries and the text
    # of messages they could not handle, to help find a bug. Off, logs hold neither.
    debug: bool = False


@dataclass(frozen=True)
class Config:
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    ocr: OcrConfig = field(default_factory=OcrConfig)
    walk: WalkConfig = field(default_factory=WalkConfig)
    chunk: ChunkConfig = field(default_factory=ChunkConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    log: LogConfig = field(default_factory=LogConfig)


T = TypeVar("T")


def _build(cls: type[T], values: dict[str, Any], where: str) -> T:
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown setting [{where}] {key}")
        default = getattr(cls(), key)
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"[{where}.{key}] must be a table")
            kwargs[key] = _build(type(default), value, f"{where}.{key}" if where else key)
            continue
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"[{where}] {key} must be a list of strings")
            value = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"[{where}] {key} must be true or false")
        elif isinstance(default, float) and isinstance(value, int):
            value = float(value)
        elif default is not None and not isinstance(value, type(default)):
            raise ConfigError(f"[{where}] {key} must be {type(default).__name__}")
        kwargs[key] = value
    return cls(**kwargs)


def parse_config(text: str) -> Config:
    """Build a Config from TOML text; unset keys keep their defaults."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config is not valid TOML: {exc}") from exc
    return _build(Config, raw, "")


def load_config(data_dir: Path) -> Config:
    """Read `config.toml` from the data dir, or the defaults when there is none."""
    path = data_dir / CONFIG_FILE_NAME
    if not path.exists():
        return Config()
    try:
        return parse_config(path.read_text(encoding="utf-8"))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


# The names Dowse writes in a data dir (prefixes): the index and its WAL, -shm and set-aside
# copies, the vector file and its temporary copies, settings, the engine's lock, info, token
# and log, the pinned-folder list, and the cache folder.
DATA_DIR_ENTRIES = (
    "dowse.sqlite3", "vectors.hnsw", ".vectors.hnsw.", "config.toml", ".config-", "engine.",
    "pinned-folders.json", "cache",
)


def resolve_data_dir(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """The data dir: --data-dir, then $DOWSE_DATA_DIR, then the platform's user data dir."""
    chosen = cli_value or os.environ.get(DATA_DIR_ENV) or platformdirs.user_data_dir(APP_NAME)
    return Path(chosen).expanduser().resolve()


def ensure_data_dir(path: Path) -> Path:
    """Create the data dir readable by its owner only (mode 0700), and make what Dowse keeps
    in it 0600 (files) and 0700 (folders): a data dir copied from a backup keeps loose modes.
    Only Dowse's own names are touched, should the folder hold anything else."""
    private_dir(path)
    for entry in path.iterdir():
        if entry.name.startswith(DATA_DIR_ENTRIES):
            tighten_tree(entry)
    return path
