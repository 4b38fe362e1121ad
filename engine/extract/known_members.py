"""The text child's way in for an archive whose members were indexed before: extract_file, told
the digests they were recorded with, so a member that did not change is not unpacked again."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.extract import Extracted, extract_file
from engine.extract.members import known_digests


@dataclass(frozen=True)
class KnownMembers:
    """An archive for the extraction child, with the digests its members were recorded with."""

    path: Path
    digests: dict[str, str]


def extract_with_known(request: Path | KnownMembers, max_bytes: int) -> Extracted:
    """The text child's target (engine/ingest/ocr_stage.py): extract_file, told an archive's
    recorded members when there are any."""
    if isinstance(request, KnownMembers):
        with known_digests(request.digests):
            return extract_file(request.path, max_bytes)
    return extract_file(request, max_bytes)
