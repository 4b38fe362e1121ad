"""OCR children side by side, as many as there are text children: the next picture files are
read while this one is recorded.

OCR's runs come after every text-bearing file (engine/ingest/ocr_stage.py), when the text
children have nothing left to read. With one OCR child a core stood idle through that tail,
the pictures read one after another: python3-doc's OCR pass took 1.30 s that way, 1.13 s
with two (a folder of scans gains more: the runs are all there is).
Each child runs engine/extract/scanned.py's read_scanned with the OCR run's time limit; the
read-ahead bookkeeping is ReadPool's (a result is used only if the file is as it was).
"""

from __future__ import annotations

from pathlib import Path

from engine.config import Config
from engine.extract.isolated import IsolatedExtractor
from engine.extract.ocr import PAGE_TIMEOUT
from engine.extract.scanned import OcrRequest
from engine.ingest.read_pool import ReadPool, Source

# Beyond its budget, a run may finish the page it is on and draw it: the child's time limit.
RUN_SLACK_SECONDS = PAGE_TIMEOUT + 30.0


class OcrPool(ReadPool):
    # One run ahead a child: each holds a child for up to a run's budget, and the runs are
    # for files already waiting behind every text-bearing file.
    ahead_per_worker = 1
    ahead_max_bytes = None  # a run's result is the pages' words, whatever the file's size
    name = "dowse-ocr"

    def __init__(self, config: Config, cache_dir: Path | None, budget_seconds: float,
                 workers: int | None = None) -> None:
        self._cache_dir = cache_dir
        self._budget = budget_seconds
        super().__init__(config, Path(), workers)

    @property
    def pids(self) -> list[int]:
        """Process ids of the children running now."""
        return [pid for child in self._children if (pid := child.pid) is not None]

    def start_soon(self) -> None:
        """Start one child ahead of the first run (its imports take 0.4 s); the others start
        when a run is read ahead for them."""
        self._children[0].start_soon()

    def _child(self) -> IsolatedExtractor:
        extract = self._config.extract
        return IsolatedExtractor(
            self._config.ocr.seconds_per_run + RUN_SLACK_SECONDS, extract.max_file_bytes,
            target="engine.extract.scanned:read_scanned", max_memory=extract.max_memory_bytes,
        )

    def _request(self, source: Source) -> object:
        if not isinstance(source, Path):
            raise TypeError("OCR reads a file by its path")
        return OcrRequest(source, self._config.ocr, self._cache_dir, self._budget)
