"""The ``codequest bench`` sub-command; the benchmarks live in the top-level ``benchmarks``
package (installed with the project), so the engine itself does not depend on them."""

from __future__ import annotations

import argparse


def register(parser: argparse.ArgumentParser) -> None:
    from benchmarks.run import register as register_bench

    register_bench(parser)
