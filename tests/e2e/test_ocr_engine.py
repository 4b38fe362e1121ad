"""A real `dowse serve` reading pictures of pages: after text, in runs, with its status line."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from engine.extract.ocr import tesseract_command
from tests.helpers.documents import write_txt
from tests.helpers.engine_process import paths_found, running_engine, wait_for, wait_idle
from tests.helpers.scans import SENTENCES, Style, fonts, image_pdf, render, wrap

pytestmark = [
    pytest.mark.e2e, pytest.mark.model,
    pytest.mark.skipif(tesseract_command() is None,
                       reason="tesseract not installed (apt-get install tesseract-ocr)"),
]


def picture(sentence: str, seed: int):  # type: ignore[no-untyped-def]
    style = Style(fonts()[0], 22, 1.5, 15)
    return render(wrap([sentence], style, width=800), style, width=800, seed=seed)


def test_scans_are_read_after_text_and_searchable_page_by_page(tmp_path: Path) -> None:
    folder = tmp_path / "pinned"
    folder.mkdir()
    write_txt(folder / "tern.txt", "Arctic terns fly from pole to pole every year.")
    picture(SENTENCES[4], 1).save(folder / "receipt.png")
    with zipfile.ZipFile(folder / "bundle.zip", "w") as bundle:  # members are entries too
        bundle.writestr("inside/walrus.txt", "A walrus hauls out on the ice floe at dusk.")
    (folder / "stack.pdf").write_bytes(image_pdf([picture(SENTENCES[i], i) for i in (6, 9, 13)]))
    # One new page per run: the three-page scan takes three runs, queued behind any text.
    config = "[ocr]\nseconds_per_run = 0.0\n"
    with running_engine(tmp_path / "data", config) as (_process, client, _runtime):
        client.pin(str(folder))
        status = wait_idle(client)
        assert status["failed"] == 0
        assert {"pages_done", "pages_total", "rate", "eta_seconds", "line", "state"} <= set(
            status["ocr"]
        )
        assert status["ocr"]["pages_total"] == 4 and status["ocr"]["line"] == ""
        assert str(folder / "receipt.png") in paths_found(client, "receipt winter tyres")
        for query in ("library roof repair", "vaccination rabies booster",
                      "piano tuner heating"):
            assert str(folder / "stack.pdf") in paths_found(client, query), query
        assert f"{folder / 'bundle.zip'} › inside/walrus.txt" in paths_found(client, "ice floe")
        hit = client.search("piano tuner heating", mode="keyword")["results"][0]
        assert hit["page"] == 3
        # A new scan while the engine runs is read too, and shows in the OCR line meanwhile.
        (folder / "more.pdf").write_bytes(image_pdf([picture(SENTENCES[i], i) for i in (16, 21)]))
        wait_for(lambda: str(folder / "more.pdf") in paths_found(client, "electrician fuse box"),
                 60.0, "the second scan's last page")
