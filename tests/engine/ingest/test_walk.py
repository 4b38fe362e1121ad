import os
from pathlib import Path

from engine.config import WalkConfig
from engine.ingest.walk import FolderWalker


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


def _all_files(root: Path) -> set[Path]:
    return {Path(d) / name for d, _, names in os.walk(root) for name in names}


def _nested_gitignore_tree(root: Path) -> None:
    _touch(root, ".gitignore", "*.log\n/top-only.txt\ncache/\nbuild-out/\n")
    _touch(root, "sub/.gitignore", "private/\n!keep.log\n!cache/\n")
    _touch(root, "sub/deeper/.gitignore", "*.txt\n!wanted.txt\n")
    _touch(root, "sub/private/.gitignore", "!inside.txt\n")  # cannot re-include: its folder is out
    _touch(root, "venvlike/pyvenv.cfg", "home = /usr")
    for rel in [
        "a.txt", "a.log", "top-only.txt", "cache/c.txt", "build-out/o.txt",
        "sub/top-only.txt", "sub/keep.log", "sub/other.log", "sub/b.txt", "sub/private/p.txt",
        "sub/private/inside.txt", "sub/cache/c.txt", "sub/deeper/x.txt", "sub/deeper/wanted.txt",
        "sub/deeper/keep.log", "sub/deeper/build-out/o.txt", "venvlike/lib/site.py",
        "node_modules/m.js", "keys/server.pem", ".hidden/h.txt", "notes/.dotfile",
    ]:
        _touch(root, rel)


def test_is_included_matches_walk_with_nested_gitignores(tmp_path: Path) -> None:
    _nested_gitignore_tree(tmp_path)
    candidates = _all_files(tmp_path)
    for config in [WalkConfig(), WalkConfig(honour_gitignore=False), WalkConfig(skip_hidden=False)]:
        walker = FolderWalker(tmp_path, config)
        walked = {f.path for f in walker.walk()}
        assert {p for p in candidates if walker.is_included(p)} == walked
    # The tree does exercise the nested rules, not just the defaults.
    walked = _walked(tmp_path)
    assert {"sub/keep.log", "sub/cache/c.txt", "sub/deeper/wanted.txt"} <= walked
    assert walked.isdisjoint({"a.log", "cache/c.txt", "sub/deeper/x.txt", "sub/private/inside.txt"})


def test_is_included_picks_up_an_edited_gitignore(tmp_path: Path) -> None:
    _touch(tmp_path, "sub/a.txt")
    _touch(tmp_path, "sub/b.md")
    walker = FolderWalker(tmp_path, WalkConfig())
    assert walker.is_included(tmp_path / "sub" / "a.txt")

    _touch(tmp_path, "sub/.gitignore", "*.txt\n")  # a new .gitignore
    assert not walker.is_included(tmp_path / "sub" / "a.txt")
    assert walker.is_included(tmp_path / "sub" / "b.md")

    _touch(tmp_path, "sub/.gitignore", "*.md\n!a.txt\n")  # an edited one
    assert walker.is_included(tmp_path / "sub" / "a.txt")
    assert not walker.is_included(tmp_path / "sub" / "b.md")

    (tmp_path / "sub" / ".gitignore").unlink()
    assert walker.is_included(tmp_path / "sub" / "b.md")
