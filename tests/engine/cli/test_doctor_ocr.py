"""`dowse doctor` on OCR: which engine reads pictures of pages, or how to get one."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from engine.cli.doctor import diagnose, write_report
from engine.extract import ocr


def test_without_tesseract_doctor_says_how_to_install_it_and_is_still_ok(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ocr, "tesseract_command", lambda: None)
    report = diagnose(tmp_path / "data")
    assert report.ocr.startswith("off: OCR needs Tesseract")
    assert "apt-get install tesseract-ocr" in report.ocr
    assert not any("Tesseract" in problem for problem in report.problems)  # OCR is optional
    out = io.StringIO()
    write_report(report, as_json=False, out=out)
    assert "  ocr           off: OCR needs Tesseract" in out.getvalue()


def test_turned_off_in_the_config_doctor_says_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text("[ocr]\nenabled = false\n")
    assert diagnose(data).ocr == "off: OCR is turned off ([ocr] enabled = false)"


@pytest.mark.skipif(ocr.tesseract_command() is None, reason="tesseract not installed")
def test_with_tesseract_doctor_names_it_and_leaves_out_missing_languages(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text('[ocr]\nlanguages = ["eng", "xyz"]\n')
    line = diagnose(data).ocr
    assert line.startswith("tesseract ") and "languages eng" in line
    assert "no data for xyz: left out" in line
