"""The engine never imports Qt or the desktop; the desktop never imports engine internals."""

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

FORBIDDEN = {
    "engine": {"PySide6", "desktop", "shiboken6"},
    "desktop": {"torch", "transformers", "hnswlib", "sqlite3", "sqlite_utils", "numpy"},
}
# `dowse gui` is started from the command line through importlib: a process entry point,
# not a dependency of any engine stage.
ALLOWED = {"engine/cli.py": {"desktop"}}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_import_boundary(package: str) -> None:
    files = sorted((REPO_ROOT / package).rglob("*.py"))
    if package == "engine":
        assert files, "engine/ has no modules"
    offenders = {}
    for path in files:
        rel = path.relative_to(REPO_ROOT).as_posix()
        bad = _imported_roots(path) & FORBIDDEN[package] - ALLOWED.get(rel, set())
        if bad:
            offenders[rel] = sorted(bad)
    assert offenders == {}


def test_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfrom PySide6.QtCore import QObject\n")
    assert {"torch", "PySide6"} <= _imported_roots(bad)


# The desktop speaks to the engine only through the protocol: these engine modules are
# standard library only (plus platformdirs), and nothing else of the engine may be imported.
DESKTOP_MAY_USE = {"engine", "engine.protocol", "engine.runtime"}


def _engine_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "engine")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "engine":
                found.add(node.module)
    return found


def test_desktop_uses_only_the_protocol_side_of_the_engine() -> None:
    offenders = {}
    for path in sorted((REPO_ROOT / "desktop").rglob("*.py")):
        bad = _engine_modules(path) - DESKTOP_MAY_USE
        if bad:
            offenders[path.relative_to(REPO_ROOT).as_posix()] = sorted(bad)
    assert offenders == {}


def test_the_gui_process_loads_no_engine_machinery() -> None:
    """What the GUI process really loads, transitive imports included."""
    import subprocess
    import sys

    probe = (
        "import sys, desktop.app; "
        "heavy = {'torch', 'transformers', 'hnswlib', 'sqlite3', 'sqlite_utils', 'numpy'}; "
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=120, check=True,
    )
    assert out.stdout.strip() == "[]"
