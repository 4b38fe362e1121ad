"""Results a person can trust, through a real `dowse serve`: copies of one text show once with
"also in", "more like this" finds neighbours by stored vector, and a PDF page comes back drawn
with the passage marked."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from engine.serve.client import EngineClient
from tests.helpers.engine_process import engine_env, running_engine, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.model]

Served = tuple[EngineClient, Path, Path, Path]  # client, pinned folder, data dir, runtime dir

BEES = [
    "Winter losses of honey bee colonies",
    "Beekeepers in the northern valleys lost nearly a third of their colonies over the last "
    "winter. Most of the dead hives had plenty of stored honey, which points away from "
    "starvation and towards disease or the long cold spell in February.",
    "Colonies treated against varroa mites in late summer came through far better than "
    "untreated ones in the same apiary. The mites weaken the brood and spread deformed wing "
    "virus, so a colony goes into winter with fewer and shorter-lived workers.",
    "We recommend counting mites in August, treating every colony above three mites per "
    "hundred bees, and insulating hive roofs before the first frost.",
]
STARTER = [
    "Sourdough starter notes",
    "Feed the starter twice a day with equal weights of rye flour and water. Keep the jar "
    "at room temperature and discard half of the starter before each feeding, otherwise it "
    "turns very sour and rises slowly.",
    "A healthy starter doubles within six hours of a feeding and smells of yoghurt and "
    "apples. If a grey liquid collects on top it is hungry: stir it back in and feed it.",
]
RYE = (
    "# Baking a rye loaf\n\nRye dough is sticky and never passes a windowpane test, so it is "
    "mixed briefly and shaped with wet hands. A levain built the night before gives the loaf "
    "its tang; the bread rests a full day after baking before it is sliced, because the crumb "
    "is still setting as it cools.\n"
)


def write_bees(folder: Path) -> None:
    import docx
    from fpdf import FPDF

    document = docx.Document()
    document.add_heading(BEES[0], level=1)
    for paragraph in BEES[1:]:
        document.add_paragraph(paragraph)
    document.save(str(folder / "bee-report.docx"))
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()  # the PDF export of the same report
    for paragraph in BEES:
        pdf.multi_cell(0, 7, paragraph)
        pdf.ln(5)
    pdf.output(str(folder / "bee-report.pdf"))


def write_starter(folder: Path) -> None:
    title, *body = STARTER
    v1 = [body[0], body[1].replace("six hours", "five hours")]
    (folder / "starter-v1.md").write_text(f"# {title}\n\n" + "\n\n".join(v1) + "\n")
    v2 = [*body, "Label the jar with the date of the last feeding."]
    (folder / "starter-v2.md").write_text(f"# {title}\n\n" + "\n\n".join(v2) + "\n")
    html = "".join(f"<p>{p}</p>" for p in v2)
    (folder / "starter-v2.html").write_text(
        f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{html}</body></html>"
    )


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("trust")
    write_bees(folder)
    write_starter(folder)
    (folder / "rye-bread.md").write_text(RYE)
    (folder / "garden.txt").write_text("Tomatoes need full sun, deep watering and a stake.")
    data = tmp_path_factory.mktemp("data")
    with running_engine(data) as (_process, client, runtime):
        client.pin(str(folder))
        wait_idle(client)
        yield client, folder, data, runtime


def test_copies_show_once_with_also_in(served: Served) -> None:
    client, folder, _, _ = served
    answer = client.search("how often should I feed my sourdough starter", k=10)
    paths = [r["path"] for r in answer["results"]]
    notes = {str(folder / n) for n in ("starter-v1.md", "starter-v2.md", "starter-v2.html")}
    (shown,) = [p for p in paths if p in notes]  # one entry for the three versions
    entry = answer["results"][paths.index(shown)]
    assert {c["path"] for c in entry["also_in"]} == notes - {shown}
    assert all(set(c) == {"path", "page", "start", "end"} for c in entry["also_in"])
    assert str(folder / "rye-bread.md") in paths  # the same subject in other words stays
    assert all(isinstance(r["confident"], bool) for r in answer["results"])

    answer = client.search("why honey bee colonies died over winter", k=10)
    paths = [r["path"] for r in answer["results"]]
    bees = {str(folder / "bee-report.docx"), str(folder / "bee-report.pdf")}
    (shown,) = [p for p in paths if p in bees]
    entry = answer["results"][paths.index(shown)]
    assert [c["path"] for c in entry["also_in"]] == list(bees - {shown})
    assert entry["confident"] and answer["confident"]
    assert not answer["results"][-1]["confident"]  # the garden note is a weak match


def test_more_like_this_uses_the_stored_vector(served: Served) -> None:
    client, folder, _, _ = served
    answer = client.similar(str(folder / "rye-bread.md"))
    paths = [r["path"] for r in answer["results"]]
    assert str(folder / "rye-bread.md") not in paths
    assert paths[0] in {str(folder / n) for n in ("starter-v1.md", "starter-v2.md",
                                                   "starter-v2.html")}
    assert answer["source"]["path"] == str(folder / "rye-bread.md")
    # The PDF's copy (the DOCX) is the same report, not more like it.
    answer = client.similar(str(folder / "bee-report.pdf"), page=1)
    paths = [r["path"] for r in answer["results"]]
    assert not {str(folder / "bee-report.pdf"), str(folder / "bee-report.docx")} & set(paths)


def test_dowse_similar_command_through_the_engine(served: Served) -> None:
    _, folder, data, runtime = served
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", "similar", str(folder / "starter-v1.md"), "--json",
         "--k", "3"],
        capture_output=True, text=True, env=engine_env(data, runtime), timeout=120, check=False,
    )
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert len(answer["results"]) <= 3 and answer["mode"] == "semantic"
    assert all(r["path"] != str(folder / "starter-v1.md") for r in answer["results"])


def test_pdf_page_comes_back_with_the_passage_marked(served: Served) -> None:
    client, folder, _, _ = served
    pdf = str(folder / "bee-report.pdf")
    answer = client.search("varroa mites deformed wing virus", mode="keyword", folders=(),
                           types=("pdf",))
    hit = answer["results"][0]
    assert hit["path"] == pdf and hit["page"] == 1
    page = client.page_image(pdf, 1, hit["start"], hit["end"], width=500)
    picture = Image.open(io.BytesIO(base64.b64decode(page.png)))
    assert (picture.width, picture.height) == (page.width, page.height) == (500, page.height)
    assert page.regions and all(0 <= v <= 1 for r in page.regions for v in r)
    top = min(r[1] for r in page.regions)
    bottom = max(r[3] for r in page.regions)
    assert 0 < top < bottom < 1
    with pytest.raises(Exception, match="not an indexed PDF"):
        client.page_image(str(folder / "garden.txt"), 1)
