"""`python -m engine.cli`: how the GUI and the client start `dowse serve` without a script."""

import sys

from engine.cli.main import main

sys.exit(main())
