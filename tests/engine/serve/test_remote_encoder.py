"""The encoder in a child process: the same vectors and explanations, gone when idle, back on
demand, and back after a crash."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config import EmbedConfig
from engine.embed.calibration import MIN_COSINE, min_cosine
from engine.serve.remote_encoder import RemoteEncoder
from tests.helpers.engine_process import wait_for

pytestmark = pytest.mark.model

PASSAGES = [
    "Aspirin lowers the risk of a second heart attack.",
    "The telescope observed a distant spiral galaxy last night.",
    "",
    "Gradient descent moves parameters against the gradient of the loss. " * 30,
]
QUERY = "heart attack prevention"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def local(cache: Path):  # type: ignore[no-untyped-def]
    from engine.embed.transformer import load_encoder

    return load_encoder(EmbedConfig(), cache)


@pytest.fixture
def remote(cache: Path) -> Iterator[RemoteEncoder]:
    encoder = RemoteEncoder(EmbedConfig(), cache, idle_exit_seconds=1.0)
    yield encoder
    encoder.close()
    assert not encoder.running


def test_vectors_and_explanations_match_the_encoder_in_process(
    remote: RemoteEncoder, local  # type: ignore[no-untyped-def]
) -> None:
    from engine.search.explain import explain_passages

    assert (remote.name, remote.dim, remote.max_tokens) == (local.name, local.dim,
                                                            local.max_tokens)
    assert min_cosine(local.encode_passages(PASSAGES), remote.encode_passages(PASSAGES)) > 0.9999
    assert remote.passages_encoded == len(PASSAGES)
    queries = [QUERY, "galaxy", ""]
    assert min_cosine(local.encode_queries(queries), remote.encode_queries(queries)) >= MIN_COSINE
    pairs = [(PASSAGES[0], 0), (PASSAGES[1], 100)]
    theirs = remote.explain(QUERY, pairs)
    ours = explain_passages(local, QUERY, pairs)
    for a, b in zip(theirs, ours, strict=True):
        assert a.method == b.method
        assert [s[:2] for s in a.passage_spans] == [s[:2] for s in b.passage_spans]
        assert a.score == pytest.approx(b.score, abs=2e-3)
    assert remote.record["model"] == local.name and remote.record["note"]


def _started(pid: int) -> str | None:
    """When process `pid` started (Linux), so a later process given the same pid (the suite
    starts many) is told apart from it; None where that cannot be read."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _gone(pid: int, started: str | None) -> bool:
    """Whether the process `pid` that started at `started` has exited and been reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return started is not None and _started(pid) != started


def test_the_child_leaves_when_idle_and_comes_back_on_demand(remote: RemoteEncoder) -> None:
    remote.encode_queries([QUERY])
    first = remote.pid
    assert first is not None and remote.starts == 1
    born = _started(first)
    # `running` is False once the reaper has let go of the child, a moment before the child
    # has exited and been reaped: wait for both.
    wait_for(lambda: not remote.running and _gone(first, born), 30, "the idle child to exit")
    started = time.monotonic()
    vector = remote.encode_queries([QUERY])
    assert vector.shape == (1, remote.dim)
    assert remote.starts == 2 and remote.pid != first
    assert time.monotonic() - started < 30  # generous: this machine is shared


def test_a_killed_child_is_started_again(remote: RemoteEncoder) -> None:
    remote.encode_queries(["warm up"])
    pid = remote.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not remote.running, 10, "the killed child to be reaped")
    assert remote.encode_passages(["after the crash"]).shape == (1, remote.dim)
    assert remote.starts == 2


def test_no_idle_exit_when_set_to_zero(cache: Path) -> None:
    encoder = RemoteEncoder(EmbedConfig(), cache, idle_exit_seconds=0)
    try:
        encoder.encode_queries([QUERY])
        time.sleep(1.5)
        assert encoder.running
    finally:
        encoder.close()
    assert not encoder.running
