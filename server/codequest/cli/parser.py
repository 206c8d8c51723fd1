"""The argument parser: one sub-parser per command, ``--debug`` before or after it."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from codequest import __version__
from codequest.cli.commands import cmd_index, cmd_search, cmd_serve, cmd_status
from codequest.cli.output import DEBUG_ENV

# Sub-commands that live in modules of their own, which register their arguments. The
# core commands do not import them: `codequest serve` and `codequest search` load neither
# the training code nor the benchmarks.
OPTIONAL_COMMANDS = (
    ("bench", "codequest.bench_cli", "run the benchmarks"),
    ("distill", "codequest.distill.cli", "train a distilled query encoder"),
)
CORE_COMMANDS = frozenset({"index", "search", "status", "serve"})


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="document encoder: sentence-transformers name or folder")
    parser.add_argument(
        "--query-encoder", help="auto, teacher-onnx, teacher-int8, teacher, or a folder"
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--cache-dir", help="where the index lives (default: PATH/.codequest)")
    parser.add_argument(
        "--exclude",
        action="append",
        default=None,
        metavar="PATTERN",
        help="gitignore-style pattern to skip (repeatable)",
    )
    parser.add_argument("--max-file-bytes", type=int)
    parser.add_argument("--max-files", type=int)
    parser.add_argument("--max-chunks", type=int)
    parser.add_argument(
        "--index",
        metavar="DIR",
        help="start from this prebuilt index (read-only); local changes go into an overlay",
    )


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser for the command line ``argv``; the optional sub-commands' modules are
    imported only when ``argv`` does not run one of the core commands."""
    # --debug is accepted before the sub-command and after it; SUPPRESS keeps a sub-parser
    # from resetting what the main parser read.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help=f"print tracebacks and third-party warnings (also: {DEBUG_ENV}=1)",
    )
    parser = argparse.ArgumentParser(
        prog="codequest", description="Local semantic code search.", parents=[debug]
    )
    parser.add_argument("--version", action="version", version=f"codequest {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[debug])

    p = add("index", "index a folder (incremental)")
    p.add_argument("path", nargs="?", default=".")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--output",
        metavar="DIR",
        help="build a portable prebuilt index in DIR, stamped with the git commit",
    )
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="where to embed: this process (default) or a Ray cluster (cluster extra)",
    )
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--workers", type=int, help="Ray embedding actors (default: GPUs or CPUs-1)")
    _add_common(p)
    p.set_defaults(func=cmd_index)

    p = add("search", "search an indexed folder")
    p.add_argument("query")
    p.add_argument("--path", default=".", help="the indexed folder (default: .)")
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--lang", action="append", help="only this language (repeatable)")
    p.add_argument("--glob", help="only paths matching this gitignore-style glob")
    p.add_argument("--exclude-tests", action="store_true", help="leave out test files")
    p.add_argument("--no-hybrid", action="store_true", help="dense retrieval only")
    p.add_argument("--explain", action="store_true", help="show each result's score components")
    p.add_argument("--json", action="store_true")
    _add_common(p)
    p.set_defaults(func=cmd_search)

    p = add("status", "show what is indexed and which query encoder answers")
    p.add_argument("--path", default=".")
    p.add_argument("--json", action="store_true")
    _add_common(p)
    p.set_defaults(func=cmd_status)

    p = add("serve", "run the language server (stdio by default)")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    p.set_defaults(func=cmd_serve)

    command = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, module, help_text in OPTIONAL_COMMANDS:
        if command in CORE_COMMANDS:
            add(name, help_text)  # named in usage and errors; its module is not needed
        else:
            _add_optional(add, name, module, help_text)
    return parser


def _add_optional(
    add: Callable[[str, str], argparse.ArgumentParser], name: str, module: str, help_text: str
) -> None:
    """Sub-commands that live in optional modules register their own arguments."""
    try:
        mod = __import__(module, fromlist=["register"])
    except ImportError:
        return
    register: Callable[[Any], None] = mod.register
    register(add(name, help_text))
