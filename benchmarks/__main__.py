"""``python -m benchmarks``: the same as ``codequest bench``."""

from benchmarks.run import cli

raise SystemExit(cli())
