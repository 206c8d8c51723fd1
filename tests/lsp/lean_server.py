"""``codequest serve`` for the lean-server tests: ``python lean_server.py [options] -- ARGS``.

* ``--small-run N``: index runs that embed more than N chunks start an embedding worker
  (``codequest.index.embedding.SMALL_RUN``; 0 sends every run to a worker).
* ``--delay SECONDS``: every indexed file takes that much longer (as ``slow_server.py``),
  so a test can act while a run, and its worker, is going.
* ``--forbid-torch FILE``: torch and sentence-transformers cannot be imported in this
  process; an attempt is written to FILE (with the stack) and fails with ImportError. The
  server's children (the embedding worker, model preparation) are not affected.

The server itself has no test hook: everything is set here, in this process only.
"""

from __future__ import annotations

import argparse
import importlib.abc
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FORBIDDEN = ("torch", "sentence_transformers")


class ForbidImports(importlib.abc.MetaPathFinder):
    """Refuses the FORBIDDEN packages, and says who asked."""

    def __init__(self, record: Path) -> None:
        self.record = record

    def find_spec(self, name: str, path: Sequence[str] | None, target: Any = None) -> None:
        if name.split(".")[0] in FORBIDDEN:
            with open(self.record, "a", encoding="utf-8") as fh:
                fh.write(f"import {name}\n{''.join(traceback.format_stack())}\n")
            raise ImportError(f"{name} is forbidden in this server (lean_server.py)", name=name)
        return None


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--small-run", type=int)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--forbid-torch", type=Path)
    options, rest = parser.parse_known_args()
    if options.forbid_torch is not None:  # before anything of CodeQuest is imported
        sys.meta_path.insert(0, ForbidImports(options.forbid_torch))
    sys.path.insert(0, str(Path(__file__).parent))
    from slow_server import slow_down

    from codequest.cli import main
    from codequest.index import embedding

    if options.small_run is not None:
        embedding.SMALL_RUN = options.small_run
    if options.delay:
        slow_down(options.delay)
    raise SystemExit(main(["serve", *[a for a in rest if a != "--"]]))
