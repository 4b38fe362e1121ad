"""Stand-ins for extract_file that misbehave on cue, for the isolated extractor's tests.

The file's first line says what to do, so one child process can misbehave on one file and
extract the next normally.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from engine.extract import Extracted, ExtractError, UnsupportedFile, extract_file


def misbehave(path: Path, max_bytes: int) -> Extracted:
    first_line = path.read_bytes().partition(b"\n")[0].decode("utf-8", "replace")
    command, _, argument = first_line.partition(" ")
    if command == "sleep":
        time.sleep(float(argument))
    elif command == "exit":
        os._exit(int(argument))
    elif command == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif command == "raise":
        raise RuntimeError(argument)
    elif command == "unsupported":
        raise UnsupportedFile(argument)
    elif command == "error":
        raise ExtractError(argument)
    elif command == "allocate":  # megabytes, touched so that they are really there
        block = bytearray(int(argument) * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])
    return extract_file(path, max_bytes)
