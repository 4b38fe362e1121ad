"""The reply to get_text, kept within one protocol message: a text too long for one goes as a
window around the passage the client shows, in the offsets results use, so a preview of a
long file shows that passage instead of nothing (a longer line would be refused)."""

from __future__ import annotations

from engine.serve import protocol

# What a reply may take of a message, leaving room for anything a line gains on the way.
REPLY_BYTES = protocol.MAX_MESSAGE_BYTES - 4096
LINE_SNAP = 400  # a window begins after a line break this close to its start, not mid-line
MAX_TRIES = 8  # each try shrinks the window in proportion; the second nearly always fits


def text_reply(request: protocol.GetText, text: str | None,
               complete: bool = False) -> protocol.FileText:
    """`text` (the file's whole indexed text) as the reply to `request`: all of it when it
    fits in one message, else the part around [request.start, request.end) that fits, with
    `offset` where it starts and `length` the whole text's. ValueError when nothing is indexed."""
    if text is None:
        raise ValueError(f"nothing indexed at {request.path}")
    reply = protocol.FileText(id=request.id, path=request.path, text=text, complete=complete)
    width = int(REPLY_BYTES * 0.98)  # a text longer cannot fit: a character takes a byte or more
    if len(text) <= REPLY_BYTES:
        size = len(protocol.encode(reply))
        if size <= REPLY_BYTES:
            return reply  # the usual case
        width = _shrunk(len(text), size)
    for _ in range(MAX_TRIES):
        start, end = _window(text, request.start, request.end, width)
        reply = protocol.FileText(id=request.id, path=request.path, text=text[start:end],
                                  complete=complete, offset=start, length=len(text))
        size = len(protocol.encode(reply))
        if size <= REPLY_BYTES:
            return reply
        width = _shrunk(width, size)
    raise ValueError(f"the text of {request.path} does not fit in a reply ({size} bytes)")


def _shrunk(width: int, size: int) -> int:
    # Wide characters and escapes (\uXXXX in the ASCII JSON a path that is not UTF-8 needs)
    # cost more than a byte a character: shrink by what this width overshot, and a little more.
    return max(1, int(width * REPLY_BYTES / size * 0.98))


def _window(text: str, start: int | None, end: int | None, width: int) -> tuple[int, int]:
    """[lo, hi) of at most `width` characters holding [start, end) (clipped to the text), as
    near its middle as the text's ends allow; from the top without a passage."""
    length = len(text)
    start = min(max(start or 0, 0), length)
    end = min(max(end if end is not None else start, start), length)
    lo = max(0, start - max(0, width - (end - start)) // 2)
    hi = min(length, lo + width)
    lo = max(0, hi - width)
    if lo > 0:  # a line begins nearby: start there, so the window does not open mid-word
        newline = text.find("\n", lo, min(start, lo + LINE_SNAP))
        lo = newline + 1 if newline >= 0 else lo
    return lo, hi
