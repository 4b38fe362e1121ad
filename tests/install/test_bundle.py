"""The PyInstaller bundle from `make bundle`, unpacked and run with no Python on the path."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from engine import __version__
from tests.helpers.engine_process import wait_for
from tests.install.processes import engine_pid, engine_program, stop

REPO = Path(__file__).resolve().parents[2]
TARBALLS = sorted((REPO / "dist").glob(f"dowse-{__version__}-linux-*.tar.gz"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not TARBALLS, reason="no bundle: run `make bundle` first"),
]


def unpack(folder: Path) -> str:
    with tarfile.open(TARBALLS[-1]) as archive:
        archive.extractall(folder / "unpacked", filter="data")
    return str(folder / "unpacked" / "dowse" / "dowse")


def test_the_unpacked_bundle_checks_indexes_and_searches(tmp_path: Path) -> None:
    program = Path(unpack(tmp_path))
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bread.txt").write_text("Sourdough bread needs a starter, flour, water and salt.")
    (docs / "birds.txt").write_text("Migratory birds fly south across the sea in autumn.")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")  # goes through the extractor child
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}

    def dowse(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(program), *args, "--data-dir", str(data)], env=env,
                              capture_output=True, text=True, timeout=300, check=False)

    doctor = dowse("doctor", "--json")
    report = json.loads(doctor.stdout)
    assert all(p.startswith("fs.inotify") for p in report["problems"]), report["problems"]
    assert report["packages"]["torch"].startswith("2.13.0") and report["packages"]["PySide6"]
    assert report["executable"] == str(program)
    index = dowse("index", str(docs))
    assert index.returncode == 0, index.stderr
    assert "Indexed 2 files" in index.stdout and "corrupt PDF" in index.stdout
    search = dowse("search", "baking", "--json")
    assert search.returncode == 0, search.stderr
    assert json.loads(search.stdout)["results"][0]["path"] == str(docs / "bread.txt")


def test_the_bundled_gui_starts_its_engine_frozen(tmp_path: Path) -> None:
    program = unpack(tmp_path)
    data, runtime = tmp_path / "data", Path(tempfile.mkdtemp(prefix="dw-"))
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen",
           "DOWSE_RUNTIME_DIR": str(runtime)}
    gui = subprocess.Popen([program, "gui", "--data-dir", str(data)], env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    engine = None
    try:
        # `sys.executable -m engine.cli serve` from the link: frozen, that is the bundle itself.
        engine = wait_for(lambda: engine_pid(data), 90.0, "the bundled GUI's engine")
        assert engine_program(engine) == program
        assert gui.poll() is None
    finally:
        gui.terminate()
        gui.wait(timeout=30)
        if engine is not None:
            stop(engine)
        shutil.rmtree(runtime, ignore_errors=True)
