"""Draws bench/scale.py's cost curve: bytes per passage on disk and in memory against size."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["passages"] for r in results]
    fig, (cost, latency) = plt.subplots(1, 2, figsize=(11, 4.2))
    cost.plot(sizes, [r["per_passage"] for r in results], "o-", label="data dir")
    cost.plot(sizes, [r["beyond_text"] for r in results], "o--", label="data dir beyond text")
    cost.plot(sizes, [r["engine"]["rss_idle"] / r["passages"] for r in results], "s-",
              label="idle RSS, all engine processes")
    cost.axhline(2048, color="grey", linestyle=":", label="target beyond text (2 KB)")
    cost.set_xscale("log")
    cost.set_yscale("log")
    cost.set_xlabel("passages")
    cost.set_ylabel("bytes per passage")
    cost.set_title("Cost per passage")
    cost.legend(fontsize=8)
    for mode, style in (("keyword", "o-"), ("semantic", "s-"), ("hybrid", "^-")):
        latency.plot(sizes, [r["engine"][f"{mode}_p95"] for r in results], style,
                     label=f"{mode} p95")
    latency.axhline(100, color="grey", linestyle=":", label="hybrid target (100 ms)")
    latency.axhline(50, color="grey", linestyle="--", label="keyword target (50 ms)")
    latency.set_xscale("log")
    latency.set_xlabel("passages")
    latency.set_ylabel("ms (client side)")
    latency.set_title("Query latency p95")
    latency.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
