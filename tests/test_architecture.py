"""The layout's rules, run: import contracts (import-linter), no cycles, modules of bounded size.

The contracts themselves live in pyproject.toml ([tool.importlinter]); `lint-imports` checks
them here and in `make lint`. What import-linter cannot see, what the GUI process really
loads at run time, is checked by starting it.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import grimp
import pytest

from tests.conftest import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_MODULE_LINES = 400


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_import_contracts_are_kept() -> None:
    out = _lint_imports(REPO_ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 kept, 0 broken" in out.stdout


def test_lint_imports_catches_a_layer_broken(tmp_path: Path) -> None:
    """The same tool on a two-layer package whose lower layer imports the upper one."""
    pkg = tmp_path / "pkg"
    (pkg / "low").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "high.py").write_text("")
    (pkg / "low" / "__init__.py").write_text("import pkg.high\n")
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""\
        [tool.importlinter]
        root_packages = ["pkg"]
        [[tool.importlinter.contracts]]
        name = "layers"
        type = "layers"
        containers = ["pkg"]
        layers = ["high", "low"]
        """))
    out = _lint_imports(tmp_path)
    assert out.returncode != 0
    assert "pkg.low is not allowed to import pkg.high" in out.stdout


def _cycles(package: str) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), over every import."""
    graph = grimp.build_graph(package)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


@pytest.mark.parametrize("package", ["engine", "desktop"])
def test_no_import_cycles(package: str) -> None:
    assert _cycles(package) == []


def test_cycle_finder_finds_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "cyc"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from cyc import b\n")
    (pkg / "b.py").write_text("import cyc.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles("cyc") == [["cyc.a", "cyc.b"]]


def test_no_module_over_the_size_limit() -> None:
    sizes = {
        p.relative_to(REPO_ROOT).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
        for package in ("engine", "desktop")
        for p in (REPO_ROOT / package).rglob("*.py")
    }
    assert len(sizes) > 40
    assert {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_every_layer_says_what_it_is_for() -> None:
    missing = [
        p.parent.relative_to(REPO_ROOT).as_posix()
        for package in ("engine", "desktop")
        for p in (REPO_ROOT / package).rglob("__init__.py")
        if not p.read_text(encoding="utf-8").lstrip().startswith('"""')
    ]
    assert missing == []


def test_the_gui_process_loads_no_engine_machinery() -> None:
    """What the GUI process really loads, transitive imports included."""
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
