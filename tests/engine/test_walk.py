import os
from pathlib import Path

from engine.config import WalkConfig
from engine.walk import FolderWalker


def _touch(root: Path, rel: str, text: str = "x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _walked(root: Path, config: WalkConfig | None = None) -> set[str]:
    walker = FolderWalker(root, config or WalkConfig())
    return {f.path.relative_to(root).as_posix() for f in walker.walk()}


def test_skips_hidden_vcs_deps_venvs_caches_and_build_output(tmp_path: Path) -> None:
    for rel in [
        "notes.md", "src/app.py", ".hidden/secret.txt", ".git/config", "node_modules/x/index.js",
        "__pycache__/a.pyc", "build/out.txt", "dist/pkg.txt", "proj/.venv/lib/x.py",
        "myenv/lib/site.py", ".dotfile",
    ]:
        _touch(tmp_path, rel)
    _touch(tmp_path, "myenv/pyvenv.cfg", "home = /usr")
    assert _walked(tmp_path) == {"notes.md", "src/app.py"}


def test_excludes_secrets_by_default(tmp_path: Path) -> None:
    for rel in [
        "keep.txt", "certs/server.pem", "certs/server.key", "app/.env", "home/.ssh/id_rsa",
        "home/.gnupg/pubring.kbx", "home/.password-store/bank.gpg", "id_ed25519",
    ]:
        _touch(tmp_path, rel)
    shown = WalkConfig(skip_hidden=False)
    assert _walked(tmp_path, shown) == {"keep.txt"}


def test_honours_nested_gitignore_files(tmp_path: Path) -> None:
    _touch(tmp_path, ".gitignore", "*.log\n/top-only.txt\n")
    _touch(tmp_path, "sub/.gitignore", "private/\n!keep.log\n")
    for rel in [
        "a.txt", "a.log", "top-only.txt", "sub/top-only.txt", "sub/private/p.txt",
        "sub/keep.log", "sub/b.txt",
    ]:
        _touch(tmp_path, rel)
    assert _walked(tmp_path) == {"a.txt", "sub/top-only.txt", "sub/keep.log", "sub/b.txt"}
    assert _walked(tmp_path, WalkConfig(honour_gitignore=False)) >= {"a.log", "sub/private/p.txt"}


def test_never_follows_symlinks_out_and_never_loops(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    _touch(outside, "leak.txt")
    _touch(root, "inner/real.txt")
    os.symlink(outside, root / "out-dir")
    os.symlink(outside / "leak.txt", root / "out-file.txt")
    os.symlink(root, root / "inner" / "loop")  # a cycle back to the root
    os.symlink(root / "inner" / "real.txt", root / "alias.txt")  # same file twice
    walked = _walked(root)
    assert not any("leak" in p or p.startswith("out-") for p in walked)
    assert len(walked) == 1
    assert walked <= {"inner/real.txt", "alias.txt"}


def test_is_included_agrees_with_walk(tmp_path: Path) -> None:
    walker = FolderWalker(tmp_path, WalkConfig())
    assert walker.is_included(tmp_path / "a" / "b.txt")
    assert not walker.is_included(tmp_path / "node_modules" / "b.txt")
    assert not walker.is_included(tmp_path / "keys" / "x.pem")
    assert not walker.is_included(tmp_path.parent / "elsewhere.txt")
