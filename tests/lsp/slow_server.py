"""``codequest serve`` whose index runs take DELAY seconds per file: ``python slow_server.py
DELAY``. A test talks to it while it indexes, without racing a fast machine.

The delay is added where the engine reports progress (after every file it reports on), by
wrapping :class:`codequest.lsp.progress.IndexProgress` in this process only; the server
itself has no test hook.
"""

from __future__ import annotations

import sys
import time

from codequest.cli import main
from codequest.lsp.progress import IndexProgress


def slow_down(delay: float) -> None:
    report = IndexProgress.__call__
    reported: dict[int, int] = {}  # progress object -> files done at its last report

    def slowed(self: IndexProgress, done: int, total: int, message: str) -> None:
        time.sleep(delay * max(0, done - reported.get(id(self), 0)))
        reported[id(self)] = done
        report(self, done, total, message)

    IndexProgress.__call__ = slowed  # type: ignore[method-assign]


if __name__ == "__main__":
    slow_down(float(sys.argv[1]))
    raise SystemExit(main(["serve", *sys.argv[2:]]))
