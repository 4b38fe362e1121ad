"""The JSON form of a search: one shape for `dowse search --json` and the engine's replies."""

from __future__ import annotations

from typing import Any

from engine.search.searcher import PassageHit, SearchResponse


def hit_json(hit: PassageHit) -> dict[str, Any]:
    item = {
        "path": hit.path,
        "page": hit.page,
        "start": hit.start,
        "end": hit.end,
        "heading": hit.heading,
        "text": hit.text,
        "score": round(hit.score, 6),
        "score_parts": {
            "semantic": None if hit.semantic is None else round(hit.semantic, 6),
            "keyword": None if hit.keyword is None else round(hit.keyword, 6),
            "keyword_rank": hit.keyword_rank,
            "semantic_rank": hit.semantic_rank,
        },
        "mtime": hit.mtime,
    }
    if hit.explanation is not None:
        item["explanation"] = hit.explanation.to_json()
    return item


def response_dict(response: SearchResponse) -> dict[str, Any]:
    """The JSON form of a search: what `dowse search --json` prints and the engine sends."""
    results = []
    for group in response.results:
        item = hit_json(group.best)
        item["more"] = [hit_json(h) for h in group.more]
        item["confident"] = group.confident
        item["also_in"] = [
            {"path": c.path, "page": c.page, "start": c.start, "end": c.end}
            for c in group.also_in
        ]
        results.append(item)
    answer = {
        "query": response.query,
        "mode": response.mode,
        "confident": response.confident,
        "elapsed_ms": round(response.elapsed_ms, 2),
        "results": results,
        "not_ready": list(response.not_ready),  # ["semantic"] while the vectors load
    }
    if response.semantic_coverage is not None:
        answer["semantic_coverage"] = round(response.semantic_coverage, 4)
    if response.source is not None:  # "more like this": the passage the results are like
        s = response.source
        answer["source"] = {"path": s.path, "page": s.page, "start": s.start, "end": s.end}
    return answer
