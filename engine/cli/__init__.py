"""The `dowse` command line: each command, its rendering, `doctor` and `eval`."""
