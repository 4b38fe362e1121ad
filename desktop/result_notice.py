"""The one line above the results that says how far to trust them."""

from __future__ import annotations

from typing import Any


def notice_for(response: dict[str, Any]) -> str:
    """No confident match, nothing found, or meaning still being learnt; else nothing."""
    if not response.get("results"):
        return f"Nothing found for “{response.get('query', '')}”."
    parts = []
    if not response.get("confident", True):
        parts.append("No confident match — these are the closest passages.")
    if response.get("not_ready"):
        parts.append("Finding by meaning is still starting; these are keyword results for now.")
    coverage = response.get("semantic_coverage")
    if isinstance(coverage, int | float) and coverage < 1.0:
        parts.append(f"Meaning is still being indexed ({coverage:.0%} of passages so far); "
                     "the rest are found by their words.")
    return " ".join(parts)
