"""The search modes, in a module of their own so the command line can parse without the store."""

MODES = ("hybrid", "semantic", "keyword")
