"""A real `dowse serve` watching a real folder: edits become findable, and nothing is redone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.serve.client import EngineClient
from tests.helpers.documents import write_docx, write_html, write_md, write_pdf, write_txt
from tests.helpers.engine_process import (
    engine_env,
    paths_found,
    running_engine,
    wait_for,
    wait_idle,
)

pytestmark = [pytest.mark.e2e, pytest.mark.model]

CONVERGE = 30.0  # seconds a change may take to become findable in a test (target: ~1 s)


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EngineClient, Path, Path]]:
    folder = tmp_path_factory.mktemp("pinned")
    write_txt(folder / "tern.txt", "Arctic terns fly from pole to pole every year.")
    write_md(folder / "notes.md", "The sourdough starter needs feeding twice a day.")
    write_pdf(folder / "report.pdf", "Quarterly revenue grew by twelve percent in Lisbon.")
    data = tmp_path_factory.mktemp("data")
    with running_engine(data) as (_process, client, runtime):
        assert "3 file(s)" in client.pin(str(folder))
        wait_idle(client)
        yield client, folder, runtime


def test_status_reports_engine_device_and_folders(
    served: tuple[EngineClient, Path, Path],
) -> None:
    client, folder, _ = served
    status = client.status()
    assert status["engine"]["state"] == "running"
    assert status["model"] == "all-MiniLM-L6-v2"
    assert status["device"] == "cpu" and status["precision"] in ("bf16", "int8", "fp32")
    (row,) = status["folder_list"]
    assert row["path"] == str(folder) and row["watch"] == "live"
    assert row["indexed"] == 3 and row["queued"] == 0
    assert {"queue", "rate", "eta_seconds", "embedded_passages"} <= set(status)


def test_new_files_of_several_formats_become_findable(
    served: tuple[EngineClient, Path, Path],
) -> None:
    client, folder, _ = served
    write_docx(folder / "minutes.docx", "The board approved the greenhouse extension.")
    write_html(folder / "page.html", "Volcanic ash grounded every flight over Iceland.")
    (folder / "sub").mkdir()
    write_txt(folder / "sub" / "deep.txt", "A narwhal tusk is an elongated canine tooth.")
    wanted = {
        "greenhouse extension": folder / "minutes.docx",
        "volcanic ash Iceland": folder / "page.html",
        "narwhal tusk": folder / "sub" / "deep.txt",
    }
    for query, path in wanted.items():
        wait_for(lambda q=query, p=path: str(p) in paths_found(client, q), CONVERGE, query)
    # Findable by words first; by meaning once the meaning phase has caught up.
    wait_idle(client)
    response = client.search("which whale has a tooth like a horn", mode="semantic", k=3)
    assert response["results"][0]["path"] == str(folder / "sub" / "deep.txt")


def test_an_edit_reembeds_only_changed_passages(
    served: tuple[EngineClient, Path, Path],
) -> None:
    client, folder, _ = served
    long_doc = folder / "long.txt"
    paragraphs = [
        f"Paragraph {i} describes maintenance step {i} of the old lighthouse lamp in detail, "
        "with the oil, the wick, the lens and the clockwork that turns it every night. " * 3
        for i in range(12)
    ]
    long_doc.write_text("\n\n".join(paragraphs))
    wait_for(lambda: str(long_doc) in paths_found(client, "lighthouse clockwork"), CONVERGE,
             "the long document")
    wait_idle(client)
    before = client.status()["embedded_passages"]
    long_doc.write_text("\n\n".join([*paragraphs, "A final note about the zeppelin hangar."]))
    wait_for(lambda: str(long_doc) in paths_found(client, "zeppelin hangar"), CONVERGE,
             "the appended note")
    wait_idle(client)
    embedded = client.status()["embedded_passages"] - before
    assert 1 <= embedded <= 2  # the last passage (and at most its overlapping neighbour)


def test_save_by_rename_rename_move_and_delete(
    served: tuple[EngineClient, Path, Path],
) -> None:
    client, folder, _ = served
    notes = folder / "notes.md"
    # An editor's atomic save: write a temporary file, then rename it over the original.
    temp = folder / ".notes.md.swp"
    write_md(temp, "The sourdough starter now wants rye flour on Sundays.")
    os.replace(temp, notes)
    wait_for(lambda: str(notes) in paths_found(client, "rye flour Sundays"), CONVERGE,
             "the saved-by-rename file")
    assert not paths_found(client, "swp")

    wait_idle(client)
    before = client.status()
    tern = folder / "tern.txt"
    renamed = folder / "terns-renamed.txt"
    tern.rename(renamed)
    moved_dir = folder / "archive"
    moved_dir.mkdir()
    report = folder / "report.pdf"
    shutil.move(report, moved_dir / "report.pdf")
    wait_for(
        lambda: paths_found(client, "arctic terns pole") == {str(renamed)}
        and paths_found(client, "revenue Lisbon") == {str(moved_dir / "report.pdf")},
        CONVERGE, "renamed and moved files under their new paths only",
    )
    after = wait_idle(client)
    assert after["embedded_passages"] == before["embedded_passages"]  # nothing re-embedded
    assert after["moved_files"] >= before["moved_files"] + 2

    (moved_dir / "report.pdf").unlink()
    wait_for(lambda: not paths_found(client, "revenue Lisbon"), CONVERGE, "the deleted file")
    shutil.rmtree(folder / "sub", ignore_errors=True)
    wait_for(lambda: not paths_found(client, "narwhal"), CONVERGE, "the deleted folder")
    semantic = client.search("revenue Lisbon", mode="semantic", k=20)["results"]
    assert all(not hit["path"].endswith("report.pdf") for hit in semantic)  # HNSW purged too


def test_cli_goes_through_the_running_engine(served: tuple[EngineClient, Path, Path]) -> None:
    client, folder, runtime = served
    data = Path(client.status()["data_dir"])
    env = engine_env(data, runtime)
    run = [sys.executable, "-m", "engine.cli"]
    out = subprocess.run([*run, "status", "--json"], env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["engine"]["state"] == "running"
    assert status["engine"]["pid"] == client.status()["engine"]["pid"]
    out = subprocess.run([*run, "search", "arctic terns", "--json", "--mode", "keyword"],
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["results"]

    second = subprocess.run([*run, "serve"], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert second.returncode == 1
    assert "already running" in second.stderr and str(status["engine"]["pid"]) in second.stderr
