"""The `dowse` command as a user runs it: a real process on a real folder and data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.serve.runtime import EngineLock, lock_holder
from tests.helpers.documents import write_pdf

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def dowse(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOWSE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("docs")
    (root / "garden.txt").write_text("Tomatoes need full sun and regular watering to ripen.")
    (root / "space.txt").write_text("The telescope observed a distant spiral galaxy last night.")
    write_pdf(root / "report.pdf", "Quarterly revenue grew by twelve percent in Europe.")
    (root / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    data = tmp_path_factory.mktemp("data")
    result = dowse("index", str(root), data_dir=data)
    assert result.returncode == 0, result.stderr
    assert "Indexed 3 files" in result.stdout
    assert "broken.docx" in result.stdout  # failures are listed with their reason
    return root, data


def test_keyword_search_json(corpus: tuple[Path, Path]) -> None:
    root, data = corpus
    out = dowse("search", "revenue Europe", "--mode", "keyword", "--json", data_dir=data)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["mode"] == "keyword"
    best = answer["results"][0]
    assert best["path"] == str(root / "report.pdf")
    assert best["page"] == 2
    assert {"path", "page", "start", "end", "text", "score", "score_parts"} <= set(best)
    assert best["score_parts"]["semantic"] is None


def test_default_search_is_hybrid_and_finds_meaning(corpus: tuple[Path, Path]) -> None:
    root, data = corpus
    out = dowse("search", "growing vegetables in my garden", "--json", data_dir=data)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["mode"] == "hybrid"
    assert isinstance(answer["confident"], bool)
    best = answer["results"][0]
    assert best["path"] == str(root / "garden.txt")
    assert best["score_parts"]["semantic"] > 0.2


def test_hostile_queries_never_error(corpus: tuple[Path, Path]) -> None:
    _, data = corpus
    for query in ['"', "NEAR(", "-", "AND (", "🦊", "x" * 10_000]:
        out = dowse("search", query, "--mode", "keyword", "--json", data_dir=data)
        assert out.returncode == 0, (query, out.stderr)
        assert isinstance(json.loads(out.stdout)["results"], list)


def test_status_json_counts(corpus: tuple[Path, Path]) -> None:
    root, data = corpus
    out = dowse("status", "--json", data_dir=data)
    status = json.loads(out.stdout)
    assert (status["folders"], status["indexed"], status["failed"]) == (1, 3, 1)
    assert status["passages"] >= 3
    assert status["folder_list"][0]["path"] == str(root)


def test_bad_folder_is_a_clear_error(tmp_path: Path) -> None:
    out = dowse("index", str(tmp_path / "missing"), data_dir=tmp_path / "data")
    assert out.returncode == 2
    assert "not a folder" in out.stderr


def test_explain_json_keys_and_completeness(corpus: tuple[Path, Path]) -> None:
    root, data = corpus
    out = dowse("search", "telescope galaxy", "--explain", "--json", data_dir=data)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)["results"]
    best = results[0]
    assert best["path"] == str(root / "space.txt")
    for result in results:
        exp = result["explanation"]
        assert {"method", "passage_spans", "query_spans", "pairs", "special_share",
                "keyword_spans"} <= set(exp)
        assert exp["method"] == "exact-mean-pooling"
        total = sum(w for _, _, w in exp["passage_spans"]) + exp["special_share"]
        assert abs(total - result["score_parts"]["semantic"]) <= 1e-3
        for start, end, _ in exp["passage_spans"]:
            assert result["start"] <= start < end <= result["end"]
    text = best["text"]
    matched = {text[s - best["start"] : e - best["start"]].lower()
               for s, e in best["explanation"]["keyword_spans"]}
    assert matched == {"telescope", "galaxy"}
    q = "telescope galaxy"
    assert {q[s:e] for s, e, _ in best["explanation"]["query_spans"]} == {"telescope", "galaxy"}


def test_a_second_writer_is_refused_while_one_writes(
    corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    root, data = corpus
    # The fixture's `dowse index` held the data dir's lock while it ran, and named itself.
    assert lock_holder(data).startswith("dowse index (pid ")
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("A second folder that must not be indexed now.")
    lock = EngineLock(data, holder="dowse index")  # as a `dowse index` running now holds it
    try:
        for args in (("index", str(other)), ("forget", str(root / "garden.txt"))):
            out = dowse(*args, data_dir=data)
            assert out.returncode == 1, (args, out.stdout, out.stderr)
            assert f"dowse index (pid {os.getpid()}) is writing the index" in out.stderr
        status = dowse("status", "--json", data_dir=data)  # reading beside it still works
        assert status.returncode == 0, status.stderr
        answer = json.loads(status.stdout)
    finally:
        lock.release()
    assert (answer["folders"], answer["indexed"]) == (1, 3)
    assert [f["path"] for f in answer["folder_list"]] == [str(root)]
