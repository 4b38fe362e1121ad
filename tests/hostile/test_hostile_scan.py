"""The hostile scan (`-m slow`): a 300-page scanned PDF, no text layer, pinned in a real
`dowse serve` beside ordinary files. Its pages become searchable as they are read, run by
run, not all at the end; every OCR run stays inside its time limit (no file fails), the
engine's children stay inside their memory limit, and the progress events carry OCR's own
line ("reading scanned pages: 40 of 300") while it reads."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.config import ExtractConfig
from engine.extract.ocr import tesseract_command
from engine.ingest.ocr_pool import RUN_SLACK_SECONDS
from engine.serve import protocol
from tests.helpers.documents import write_txt
from tests.helpers.engine_process import paths_found, running_engine, wait_for, wait_idle
from tests.helpers.scans import SENTENCES, Style, fonts, image_pdf, render

pytestmark = [
    pytest.mark.e2e, pytest.mark.model, pytest.mark.slow,
    pytest.mark.skipif(tesseract_command() is None,
                       reason="tesseract not installed (apt-get install tesseract-ocr)"),
]

PAGES = 300
PLANTED = {1: SENTENCES[0], 150: SENTENCES[9], PAGES: SENTENCES[13]}
SECONDS_PER_RUN = 5.0


def _scan(path: Path) -> None:
    style = Style(fonts()[0], 18, 0.5, 10)
    pages = [render([PLANTED.get(n, f"Ledger page {n} of the harbour archive")], style,
                    width=900, seed=n) for n in range(1, PAGES + 1)]
    path.write_bytes(image_pdf(pages))


def _peak_rss_kb(pid: int) -> int:
    """The highest VmHWM of the process and every process below it."""
    peak, stack = 0, [pid]
    while stack:
        current = stack.pop()
        status = Path(f"/proc/{current}/status")
        try:
            lines = status.read_text().splitlines()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        hwm = [int(line.split()[1]) for line in lines if line.startswith("VmHWM")]
        peak = max([peak, *hwm])
        stack.extend(int(c) for c in children)
    return peak


def test_a_huge_scan_is_searchable_as_it_is_read_and_stays_in_its_limits(
    tmp_path: Path,
) -> None:
    root = tmp_path / "pinned"
    root.mkdir()
    write_txt(root / "tern.txt", "Arctic terns fly from pole to pole every year.")
    _scan(root / "ledger.pdf")
    ledger = str(root / "ledger.pdf")
    config = f"[ocr]\nseconds_per_run = {SECONDS_PER_RUN}\n"
    started = time.monotonic()
    with running_engine(tmp_path / "data", config) as (process, client, _runtime):
        client.subscribe()
        client.pin(str(root))
        # The first page is found while most pages are still to be read.
        wait_for(lambda: ledger in paths_found(client, "quarterly invoice harbour crane"),
                 300.0, "the scan's first page")
        first_page = time.monotonic() - started
        ocr = client.status()["ocr"]
        assert 0 < ocr["pages_done"] < PAGES and ocr["pages_total"] == PAGES, ocr
        assert ocr["line"] == f"reading scanned pages: {ocr['pages_done']} of {PAGES}"
        assert ledger not in paths_found(client, "piano tuner heating season")  # page 300
        peak = 0

        def finished() -> bool:
            nonlocal peak
            peak = max(peak, _peak_rss_kb(process.pid))
            line = client.status()["ocr"]
            return line["line"] == "" and line["pages_done"] == line["pages_total"] == PAGES

        wait_for(finished, 900.0, "every page to be read")
        seconds = time.monotonic() - started
        status = wait_idle(client)  # the last run's pages recorded
        assert status["failed"] == 0, client.errors()
        for query, page in (("quarterly invoice harbour crane", 1),
                            ("vaccination rabies booster", 150),
                            ("piano tuner heating season", PAGES)):
            hits = client.search(query, mode="keyword")["results"]
            assert [(h["path"], h["page"]) for h in hits[:1]] == [(ledger, page)], query
        progress = [e for e in client.events if isinstance(e, protocol.Progress)]
    reading = [p for p in progress if p.ocr_pages_total == PAGES]
    assert reading, "no progress event carried the OCR line"
    done = [p.ocr_pages_done for p in reading]
    assert done == sorted(done) and done[0] < PAGES
    assert any(p.ocr_rate > 0 and p.ocr_eta_seconds for p in reading)
    # Every process of the engine stays inside the extraction children's address-space cap.
    assert peak < ExtractConfig().max_memory_mb * 1024, f"peak RSS {peak} kB"
    assert seconds < 900, f"{seconds:.0f} s"
    print(f"{PAGES} pages: page 1 found after {first_page:.0f} s, all read after {seconds:.0f} s "
          f"in runs of {SECONDS_PER_RUN:g} s (each at most {SECONDS_PER_RUN + RUN_SLACK_SECONDS:g}"
          f" s); peak RSS of any engine process {peak // 1024} MB")
