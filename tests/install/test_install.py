"""installer/install.sh for real: a private venv in a temporary HOME, the app, then uninstall.

The slow test installs from a folder of wheels built once per pyproject.toml under the system
temporary folder, so it runs offline (`--wheels`) and in about a minute after the first time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.engine_process import wait_for
from tests.install.processes import engine_pid, engine_program, stop

REPO = Path(__file__).resolve().parents[2]
INSTALL_SH = REPO / "installer" / "install.sh"
TORCH = "torch==2.13.0"
START_TIMEOUT = 90.0


def base_python() -> str:
    """The interpreter behind the test venv: the installer builds its own venv from it."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidate = Path(sys.base_prefix) / "bin" / version
    return str(candidate) if candidate.is_file() else (shutil.which(version) or "python3")


def clean_env(home: Path, runtime: Path) -> dict[str, str]:
    """A login-like environment: nothing from the test venv or the developer's XDG folders."""
    return {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "QT_QPA_PLATFORM": "offscreen",
        "DOWSE_RUNTIME_DIR": str(runtime),
        "HF_HUB_OFFLINE": "1",
    }


def run(args: list[str | Path], env: dict[str, str], timeout: float = 120.0,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def snapshot(home: Path) -> dict[str, bool]:
    """Every path under `home` (relative), True for folders; the app's venv counts as one."""
    found: dict[str, bool] = {}
    for root, dirs, files in os.walk(home):
        rel = Path(root).relative_to(home)
        if rel.name == "venv":
            dirs.clear()
        for name in dirs:
            found[str(rel / name)] = True
        for name in files:
            found[str(rel / name)] = False
    return found


@pytest.fixture(scope="session")
def wheels() -> Path:
    """Every wheel the install needs, built once per pyproject.toml and Python version."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = [TORCH, *pyproject["build-system"]["requires"],
                    *pyproject["project"]["dependencies"]]
    key = hashlib.sha256(f"{sys.version}\n{requirements}".encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"dowse-test-wheels-{key}"
    if not (folder / ".complete").exists():
        building = Path(tempfile.mkdtemp(prefix="dowse-test-wheels-"))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir",
                        str(building), *requirements], check=True, timeout=900)
        (building / ".complete").touch()
        shutil.rmtree(folder, ignore_errors=True)
        building.rename(folder)
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    # Things the user had before: the install must leave them and their folders alone.
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "other-tool").write_text("#!/bin/sh\n")
    (home / ".config").mkdir()
    (home / ".config" / "other.conf").write_text("x = 1\n")
    return home


@pytest.fixture
def runtime() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dw-"))  # short: sockets' paths are limited
    yield path
    shutil.rmtree(path, ignore_errors=True)


def check_desktop_entry(path: Path, launcher: Path, icon: Path) -> dict[str, str]:
    if shutil.which("desktop-file-validate"):
        result = run(["desktop-file-validate", path], os.environ.copy())
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout
    keys = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    assert keys["Exec"] == f"{launcher} gui"
    assert keys["Icon"] == str(icon)
    assert keys["Name"] == "Dowse"
    return keys


@pytest.mark.slow
def test_install_run_uninstall_and_purge(
    wheels: Path, home: Path, runtime: Path, tmp_path: Path
) -> None:
    env = clean_env(home, runtime)
    before = snapshot(home)
    result = run([INSTALL_SH, "--cpu", "--autostart", "--wheels", wheels,
                  "--python", base_python()], env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Installed dowse 0.1.0 (torch 2.13.0+cpu, cpu build)" in result.stdout

    share = home / ".local" / "share"
    prefix = share / "dowse" / "app"
    launcher = home / ".local" / "bin" / "dowse"
    icon = share / "icons" / "hicolor" / "scalable" / "apps" / "dowse.svg"
    assert os.access(launcher, os.X_OK)
    assert run([launcher, "--version"], env).stdout.strip() == "dowse 0.1.0"
    assert icon.read_bytes() == (REPO / "resources" / "icons" / "dowse.svg").read_bytes()
    check_desktop_entry(share / "applications" / "dowse.desktop", launcher, icon)
    autostart = check_desktop_entry(home / ".config" / "autostart" / "dowse.desktop",
                                    launcher, icon)
    assert autostart["X-GNOME-Autostart-enabled"] == "true"
    manifest = (prefix / "manifest.txt").read_text()
    assert f"file\t{launcher}\n" in manifest and f"tree\t{prefix / 'venv'}\n" in manifest

    doctor = run([launcher, "doctor", "--json"], env)
    report = json.loads(doctor.stdout)
    # A low inotify limit on the test machine is its problem, not the install's.
    assert all(p.startswith("fs.inotify") for p in report["problems"]), report["problems"]
    assert doctor.returncode == (1 if report["problems"] else 0)
    assert report["packages"]["torch"].startswith("2.13.0")
    assert report["model_dir"].startswith(str(prefix))
    assert report["data_dir"] == str(share / "dowse")

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bread.txt").write_text("Sourdough bread needs a starter, flour, water and salt.")
    (docs / "birds.txt").write_text("Migratory birds fly south across the sea in autumn.")
    data_dir = share / "dowse"
    gui = subprocess.Popen([launcher, "gui"], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    engine = None
    try:
        # The window starts the engine from the installed venv; the engine says where it is.
        engine = wait_for(lambda: engine_pid(data_dir), START_TIMEOUT, "the GUI's engine")
        assert gui.poll() is None
        assert engine_program(engine).startswith(str(prefix))
        # While it runs, the command line goes through that engine.
        index = run([launcher, "--data-dir", data_dir, "index", docs], env, timeout=300)
        assert index.returncode == 0, index.stderr
        assert "2 indexed" in index.stdout and "pinned" in index.stderr
        search = run([launcher, "--data-dir", data_dir, "search", "baking", "--json"], env)
        assert search.returncode == 0, search.stderr
        assert json.loads(search.stdout)["results"][0]["path"] == str(docs / "bread.txt")
    finally:
        gui.terminate()
        gui.communicate(timeout=30)
        for pid in (engine, engine_pid(data_dir)):
            if pid is not None:
                stop(pid)
    assert (home / ".local" / "state" / "dowse" / "log" / "engine.log").is_file()

    result = run([prefix / "install.sh", "--uninstall"], env)
    assert result.returncode == 0, result.stderr
    after = snapshot(home)
    kept = (".local/share/dowse", ".local/state/dowse", ".config/Dowse")  # data, logs, settings
    left = {path for path in after if path not in before and not path.startswith(kept)}
    assert left <= {".local/share", ".local/state"}, left  # the folders that hold them
    assert (data_dir / "dowse.sqlite3").is_file()
    assert before.items() <= after.items()  # the user's own files are untouched

    result = run([INSTALL_SH, "--uninstall", "--purge-data"], env)
    assert result.returncode == 0, result.stderr
    after = snapshot(home)
    new = {path: is_dir for path, is_dir in after.items() if path not in before}
    assert new == {".local/share": True, ".local/state": True}, new  # empty XDG folders only
    assert before.items() <= after.items()


def test_cuda_without_a_driver_is_refused_before_anything_is_written(
    tmp_path: Path, runtime: Path
) -> None:
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi")
    home = tmp_path / "home"
    home.mkdir()
    result = run([INSTALL_SH, "--cuda"], clean_env(home, runtime))
    assert result.returncode == 2
    assert "--cuda: no NVIDIA driver found" in result.stderr
    assert list(home.iterdir()) == []


def test_bad_arguments_are_refused(tmp_path: Path, runtime: Path) -> None:
    env = clean_env(tmp_path, runtime)
    assert run([INSTALL_SH, "--frobnicate"], env).returncode == 2
    assert run([INSTALL_SH, "--purge-data"], env).returncode == 2
    result = run([INSTALL_SH, "--uninstall", "--prefix", tmp_path / "nothing"], env)
    assert result.returncode == 0 and "No Dowse install" in result.stdout
    assert run([INSTALL_SH, "--help"], env).stdout.startswith("Usage: install.sh")


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck is not installed")
def test_install_script_passes_shellcheck() -> None:
    result = run(["shellcheck", INSTALL_SH], os.environ.copy())
    assert result.returncode == 0, result.stdout
