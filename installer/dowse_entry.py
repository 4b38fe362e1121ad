"""The frozen app's `dowse` program: engine.cli's main, with its child processes made to work.

A PyInstaller build has no Python interpreter to run `-m` or `-c` code, so the two ways the app
starts children both come back here and are turned into the right thing.
"""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    # engine/extract/isolated.py runs extraction in a multiprocessing "spawn" child. Frozen, that
    # child is this program with --multiprocessing-fork; freeze_support() runs it and exits.
    multiprocessing.freeze_support()
    # desktop/engine_link.py and engine/serve/client.py start the engine as
    # `sys.executable -m engine.cli serve ...`; frozen, sys.executable is this program.
    if sys.argv[1:3] == ["-m", "engine.cli"]:
        del sys.argv[1:3]
    elif sys.platform == "darwin" and len(sys.argv) == 1:
        sys.argv.append("gui")  # Dowse.app opened from Finder
    from engine.cli.main import main as dowse_main

    return dowse_main()


if __name__ == "__main__":
    sys.exit(main())
