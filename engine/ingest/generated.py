"""Recognises files that machines wrote for machines (lock files, minified code, search indexes).

A person never wants these as search results: a Sphinx `searchindex.js` holds every word of a
documentation folder, so it matches any query. They are skipped by default, each with a
reason (`walk.skip_generated = false` indexes them as ordinary text).

Two checks, cheap first. By name: lock files, `*.min.js`, source maps and search indexes are
skipped before they are read. By text: a file whose characters are mostly on very long lines,
where those lines do not read as prose. Prose written one paragraph per line (Markdown, the
abstracts of the shared collections) has long lines too, so length alone never decides. On
the long lines of every document of the four shared collections (8,083 have such lines),
whitespace was at least 11% of the characters and words averaged at most 8.1 characters;
the few with under half letters (dotted contents pages) had at most 4% of characters that
are neither letters, spaces nor full stops, and none of the 8,083 is caught. Minified
bundles and source maps (rustdoc, mdbook, jQuery, underscore) had at most 3% whitespace
or words of 35 characters and more; Sphinx's `searchindex.js` has 12% whitespace but only 39%
letters and 51% other characters (quotes, brackets, digits, commas).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from engine.config import WalkConfig
from engine.extract import Extracted, UnsupportedFile

LOCK_FILES = frozenset(
    name.lower()
    for name in """
    package-lock.json npm-shrinkwrap.json yarn.lock pnpm-lock.yaml bun.lock Cargo.lock
    poetry.lock Pipfile.lock composer.lock Gemfile.lock Podfile.lock go.sum flake.lock
    pdm.lock uv.lock mix.lock pubspec.lock packages.lock.json conda-lock.yml
    gradle.lockfile Package.resolved
    """.split()
)
_NAME_RULES = (
    (re.compile(r"\.lock$"), "lock file"),
    (re.compile(r"[.-]min\.(js|mjs|cjs|css)$"), "minified code"),
    (re.compile(r"\.(bundle|chunk)\.(js|mjs|css)$"), "bundled code"),
    (re.compile(r"\.(js|mjs|cjs|css|ts|min)\.map$"), "source map"),
    (re.compile(r"^search[-_.]?index[^/]*\.(js|json)$"), "search index"),
    (re.compile(r"^objects\.inv$"), "search index"),
)

LONG_LINE = 1000  # characters; a line longer than this is unusual for a person to write
LONG_SHARE = 0.5  # the text counts as long-lined when this share of it is on such lines
# Characters of the long lines examined, in evenly spaced windows: a search index changes
# character along its length (names, then numbers), and the cost stays bounded.
WINDOWS, WINDOW = 8, 25_000
MIN_SPACE_SHARE = 0.06  # prose: >= 0.11 on the shared collections; minified: <= 0.03
MAX_WORD_LENGTH = 20.0  # prose: <= 8.1; minified code: >= 35
MAX_LETTER_SHARE = 0.5  # data: fewer letters than this ...
MIN_OTHER_SHARE = 0.35  # ... and more of what is neither letter, space nor full stop
_LETTERS = re.compile(r"[^\W\d_]")
_SPACE = re.compile(r"\s")


def generated_name(path: Path) -> str | None:
    """Why the file's name says a machine wrote it, or None."""
    name = path.name.lower()
    if name in LOCK_FILES:
        return "lock file"
    for pattern, reason in _NAME_RULES:
        if pattern.search(name):
            return reason
    return None


def generated_text(text: str) -> str | None:
    """Why the text reads as minified or machine-written, or None for text a person wrote."""
    if len(text) <= LONG_LINE:
        return None
    long_lines = [line for line in text.split("\n") if len(line) > LONG_LINE]
    long_chars = sum(len(line) for line in long_lines)
    if long_chars < LONG_SHARE * len(text):
        return None
    joined = "\n".join(long_lines)
    step = max(WINDOW, len(joined) // WINDOWS)
    sample = "".join(joined[i : i + WINDOW] for i in range(0, len(joined), step))
    size = len(sample)
    spaces = len(_SPACE.findall(sample))
    word_length = (size - spaces) / max(len(sample.split()), 1)
    letters = len(_LETTERS.findall(sample))
    other = (size - spaces - letters - sample.count(".")) / size
    longest = max(len(line) for line in long_lines)
    if spaces / size < MIN_SPACE_SHARE or word_length > MAX_WORD_LENGTH:
        what = "minified or machine-written text"
    elif letters / size < MAX_LETTER_SHARE and other > MIN_OTHER_SHARE:
        what = "data, not prose"
    else:
        return None
    return (
        f"{what} (lines of up to {longest:,} characters, {spaces / size:.0%} spaces, "
        f"{letters / size:.0%} letters)"
    )


def refuse_generated_name(path: Path) -> None:
    """UnsupportedFile if the name says the file is generated (checked before it is read)."""
    reason = generated_name(path)
    if reason is not None:
        raise UnsupportedFile(f"generated file: {reason}")


def refuse_generated_text(text: str) -> None:
    """UnsupportedFile if the extracted text is minified or machine-written."""
    reason = generated_text(text)
    if reason is not None:
        raise UnsupportedFile(f"generated file: {reason}")


def screened(
    extract: Callable[[Path], Extracted], config: WalkConfig
) -> Callable[[Path], Extracted]:
    """`extract`, refusing generated files first by name, then by their text."""
    if not config.skip_generated:
        return extract

    def extract_unless_generated(path: Path) -> Extracted:
        refuse_generated_name(path)
        doc = extract(path)
        refuse_generated_text(doc.text)
        return doc

    return extract_unless_generated
