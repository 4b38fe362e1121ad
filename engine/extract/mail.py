"""Saved e-mail messages: a short header block, then the readable body, without attachments."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, Message
from pathlib import Path

from engine.extract.base import Extracted, TextBuilder, reading, register
from engine.extract.html import html_to_extracted
from engine.extract.text import decode_text

_SHOWN_HEADERS = ("From", "To", "Cc", "Date")


def _part_text(part: Message) -> str:
    """A text part's content, even when it names a charset Python does not know."""
    if isinstance(part, EmailMessage):
        try:
            return str(part.get_content())
        except (LookupError, UnicodeError):
            pass
    payload = part.get_payload(decode=True)
    return decode_text(payload) if isinstance(payload, bytes) else ""


@register(".eml", mimes=("message/rfc822",))
def extract_eml(path: Path) -> Extracted:
    builder = TextBuilder()
    with reading("e-mail"), path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
        subject = " ".join(str(message.get("Subject", "")).split())
        header_lines = [f"Subject: {subject}"] if subject else []
        header_lines += [f"{name}: {message[name]}" for name in _SHOWN_HEADERS if message[name]]
        builder.add("\n".join(header_lines), heading_level=1 if subject else 0, title=subject)

        if not isinstance(message, EmailMessage):  # only a non-default policy gives Message
            return builder.build("email")
        plain = message.get_body(preferencelist=("plain",))
        html = None if plain is not None else message.get_body(preferencelist=("html",))
        if plain is not None:
            builder.add(_part_text(plain))
        elif html is not None:
            builder.add_extracted(html_to_extracted(_part_text(html), "email"))
    return builder.build("email")
