"""Opens a result's file with the system's viewer, at the result's page when that viewer can
be told one (Evince and its forks, Okular, Zathura), and plainly otherwise."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import urllib.parse
from collections.abc import Callable
from functools import cache
from pathlib import Path, PurePath

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices

log = logging.getLogger(__name__)

XDG_MIME_TIMEOUT_S = 2.0
# desktop-file name fragment -> (program, its arguments for "this file at this 1-based page")
PAGE_VIEWERS: dict[str, tuple[str, Callable[[str, int], list[str]]]] = {
    "evince": ("evince", lambda path, page: [f"--page-index={page}", path]),
    "atril": ("atril", lambda path, page: [f"--page-index={page}", path]),
    "xreader": ("xreader", lambda path, page: [f"--page-index={page}", path]),
    "okular": ("okular", lambda path, page: ["-p", str(page), path]),
    "zathura": ("zathura", lambda path, page: [f"--page={page}", path]),
}
PAGED_SUFFIXES = frozenset({".pdf"})


def page_command(path: str, page: int, handler: str | None,
                 which: Callable[[str], str | None] = shutil.which) -> list[str] | None:
    """The command that opens `path` at `page` in the PDF handler named by its desktop file
    (`handler`, as `xdg-mime query default` prints it), or None where that handler takes no
    page. With no handler known, the first page-taking viewer installed is used."""
    if handler:
        name = handler.lower()
        candidates = [v for key, v in PAGE_VIEWERS.items() if key in name]
    else:
        candidates = list(PAGE_VIEWERS.values())
    for program, arguments in candidates:
        found = which(program)
        if found:
            return [found, *arguments(path, page)]
    return None


@cache
def default_pdf_handler() -> str | None:
    """The desktop file that opens PDFs here ("org.gnome.Evince.desktop"), or None if unknown."""
    xdg_mime = shutil.which("xdg-mime")
    if xdg_mime is None:
        return None
    try:
        out = subprocess.run([xdg_mime, "query", "default", "application/pdf"],
                             capture_output=True, text=True, timeout=XDG_MIME_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("file opener: xdg-mime failed: %s", exc)
        return None
    return out.stdout.strip() or None


def open_file(path: str, page: int | None = None) -> None:
    """Open `path`, at `page` (1-based) where it is paged and the viewer takes a page."""
    if (page is not None and page > 0 and PurePath(path).suffix.lower() in PAGED_SUFFIXES
            and _is_text(path)):  # a name that is not UTF-8 cannot be an argument: see local_url
        command = page_command(path, page, default_pdf_handler())
        if command is not None and QProcess.startDetached(command[0], command[1:])[0]:
            return
    QDesktopServices.openUrl(local_url(path))


def reveal_file(path: str) -> None:
    """Show the folder that holds `path` in the file manager."""
    QDesktopServices.openUrl(local_url(str(Path(path).parent)))


def local_url(path: str) -> QUrl:
    """A file:// URL for `path`, byte for byte. QUrl.fromLocalFile would drop the surrogate
    escapes of a name that is not UTF-8 (PySide6 drops lone surrogates from every str it
    converts), opening another file or none; percent-encoded bytes survive."""
    if _is_text(path):
        return QUrl.fromLocalFile(path)
    raw = os.fsencode(path)
    return QUrl.fromEncoded(b"file://" + urllib.parse.quote_from_bytes(raw).encode("ascii"))


def local_path(url: QUrl) -> str:
    """The path a file:// URL names, byte for byte (a dropped folder, say): its inverse of
    local_url, since QUrl.toLocalFile would put U+FFFD for bytes that are not UTF-8."""
    encoded = url.path(QUrl.ComponentFormattingOption.FullyEncoded)
    return os.fsdecode(urllib.parse.unquote_to_bytes(encoded))


def _is_text(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
