"""Runs one test in a child pytest, for native libraries that leave their process changed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# The child's environment names the node id it runs: that test goes on to its body there.
_CHILD = "DOWSE_TEST_FRESH_PROCESS"
_NOT_A_PASS = ("skipped", "deselected", "xfailed", "xpassed", "error", "no tests ran")


def in_fresh_process() -> bool:
    """Whether this is the child that run_in_fresh_process started: it ends after one test."""
    return _CHILD in os.environ


def run_in_fresh_process(request: pytest.FixtureRequest, timeout: float = 600) -> bool:
    """True in the test run: the test ran in a fresh interpreter and passed there (else this
    fails with the child's output). False in that child, where the test goes on to its body.

    Use as the test's first line: `if run_in_fresh_process(request): return`.
    """
    nodeid = request.node.nodeid
    if os.environ.get(_CHILD) == nodeid:
        return False
    # --runxfail: the child reports the body's own outcome; an xfail mark is the parent's.
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--runxfail",
               nodeid]
    child = subprocess.run(
        command, cwd=request.config.rootpath, env={**os.environ, _CHILD: nodeid},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
    )
    lines = child.stdout.strip().splitlines()
    summary = lines[-1] if lines else ""
    passed = "1 passed" in summary and not any(word in summary for word in _NOT_A_PASS)
    if child.returncode != 0 or not passed:
        code = child.returncode
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        pytest.fail(f"in a fresh process ({how}):\n{child.stdout or '(no output)'}", pytrace=False)
    return True
