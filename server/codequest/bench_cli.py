"""The ``codequest bench`` sub-command.

The benchmarks are the top-level ``benchmarks`` package of a clone; the wheel does not
ship them, so the engine never depends on them. From a clone (an editable install, or
``PYTHONPATH`` with the repository root) this runs them; from an installed wheel it says
where they run and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

NOT_IN_CLONE = (
    "codequest bench: the benchmarks run from a clone of the repository: "
    "python -m benchmarks [--quick] (in the clone's root)"
)


def _benchmarks_run() -> ModuleType | None:
    """``benchmarks.run`` from the clone this package lives in, else from ``sys.path``."""
    root = Path(__file__).resolve().parents[2]  # <clone>/server/codequest/bench_cli.py
    if (root / "benchmarks" / "run.py").is_file() and str(root) not in sys.path:
        sys.path.insert(0, str(root))  # the clone's own benchmarks, not a namesake in cwd
    try:
        run = importlib.import_module("benchmarks.run")
    except ImportError:
        return None
    return run if callable(getattr(run, "register", None)) else None


def _unavailable(args: argparse.Namespace) -> int:
    print(NOT_IN_CLONE, file=sys.stderr)
    return 2


def register(parser: argparse.ArgumentParser) -> None:
    run = _benchmarks_run()
    if run is not None:
        run.register(parser)
        return
    # Without the benchmarks their options are unknown: take every argument as it comes
    # (nothing counts as an option), so any command line gets the one-line answer.
    parser.prefix_chars = "\0"
    parser.add_argument("arguments", nargs="*", help=argparse.SUPPRESS)
    parser.set_defaults(func=_unavailable)
