"""What indexing reports: progress while it runs, a summary after, and each file's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class IndexProgress:
    total: int
    done: int
    failed: int
    bytes_done: int
    elapsed: float
    current: str
    # The meaning phase: passages with a vector, of all passages in the index (0 of 0 when
    # nothing is embedded, as in a keyword-only run).
    embedded: int = 0
    passages: int = 0
    meaning_eta: float | None = None

    @property
    def meaning_fraction(self) -> float | None:
        return self.embedded / self.passages if self.passages else None

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None


@dataclass
class IndexSummary:
    indexed: int = 0
    unchanged: int = 0
    removed: int = 0
    moved: int = 0  # renamed or moved files recognised by content: nothing re-embedded
    passages: int = 0
    embedded: int = 0  # passages that went through the encoder
    reused: int = 0  # passages whose text was unchanged, so their stored vector was kept
    bytes: int = 0
    seconds: float = 0.0
    words_seconds: float = 0.0  # until every file's text was findable by its words
    # Until the pages only OCR reads (pictures, scanned pages) were findable too; None: none.
    ocr_seconds: float | None = None
    ocr_pages: int = 0  # pages of pictures and scans that OCR finished in this run
    meaning_seconds: float | None = None  # until every passage had a vector; None: not embedded
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    # Files that changed while they were read: nothing was stored; read them again later.
    changed: list[tuple[str, int]] = field(default_factory=list)  # (path, folder id)


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file, for the engine's events."""

    path: str
    state: str  # indexed | unchanged | moved | skipped | failed | removed
    passages: int = 0
    embedded: int = 0
    reason: str = ""
