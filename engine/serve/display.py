"""How a client shows a file's path to a person: standard library only, so the desktop app
uses it too.

Paths travel losslessly: one that is not UTF-8 is a str with surrogate escapes
(os.fsdecode), and that str is what previews, opens and re-indexes the file. Only what is
shown is made pretty, here.
"""

from __future__ import annotations

import re

_SURROGATES = re.compile(r"[\ud800-\udfff]")
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def display_path(path: str, *, keep_controls: bool = False) -> str:
    """A path as a person reads it: bytes that are not UTF-8 (and, unless `keep_controls`,
    control characters such as a newline or a terminal escape in a name) become U+FFFD.
    For showing only; the path itself is what opens the file."""
    if not (_SURROGATES if keep_controls else _UNSHOWABLE).search(path):
        return path
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "replace")
    text = raw.decode("utf-8", "replace")
    return text if keep_controls else _UNSHOWABLE.sub("\ufffd", text)
