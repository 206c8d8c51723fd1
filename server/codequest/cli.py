"""The ``codequest`` command line: index, search, status, serve, bench, distill.

Every error is one line on stderr, never a traceback: exit status 2 for a problem the user
can fix, 1 for a bug (:func:`exit_status` is the one place that decides). ``--debug`` or
``CODEQUEST_DEBUG=1`` adds the traceback and lets third-party warnings through; without
it, the libraries' warnings and log chatter stay off the terminal and only CodeQuest's own
lines are printed. The search path imports no torch, so a warm ``codequest search`` starts
quickly.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from codequest.config import Config
from codequest.errors import UserError

if TYPE_CHECKING:
    from codequest.workspace import Workspace

EXIT_INTERNAL_ERROR = 1
EXIT_USER_ERROR = 2
DEBUG_ENV = "CODEQUEST_DEBUG"
# Libraries that log warnings of their own at import or model load; CodeQuest reports what
# matters to the user itself.
THIRD_PARTY_LOGGERS = (
    "transformers",
    "sentence_transformers",
    "peft",
    "torch",
    "onnx",
    "onnxruntime",
    "huggingface_hub",
    "model2vec",
    "ray",
)


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


def _config(args: argparse.Namespace) -> Config:
    raw: dict[str, Any] = {}
    for name in (
        "model",
        "query_encoder",
        "device",
        "cache_dir",
        "exclude",
        "max_file_bytes",
        "max_files",
        "max_chunks",
    ):
        value = getattr(args, name, None)
        if value is not None:
            raw[name] = value
    if getattr(args, "no_hybrid", False):
        raw["hybrid"] = False
    if getattr(args, "index", None):
        raw["index_path"] = os.path.abspath(args.index)
    config, problems = Config.from_mapping(raw)
    if problems:
        raise UserError("; ".join(problems))
    return config


class _Progress:
    """A one-line progress bar on stderr when it is a terminal; quiet otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int, message: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        width = 30
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\rindexing [{bar}] {message}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _workspace(path: str, config: Config) -> Workspace:
    from codequest.prebuilt import open_workspace

    try:
        ws = open_workspace(path, config)
    except (NotADirectoryError, FileNotFoundError) as err:
        raise UserError(f"{path!r} is not a folder") from err
    if ws.fallback_reason:
        print(f"note: {ws.fallback_reason}", file=sys.stderr)
    return ws


def cmd_build_prebuilt(args: argparse.Namespace) -> int:
    from codequest.prebuilt import build_prebuilt

    if not os.path.isdir(args.path):
        raise UserError(f"{args.path!r} is not a folder")
    report, info = build_prebuilt(
        args.path, args.output, _config(args), progress=_Progress(not args.json)
    )
    if args.json:
        print(json.dumps({**report.to_json(), "prebuilt": info}, indent=2))
        return 0
    dirty = " (working tree had uncommitted changes)" if info["dirty"] else ""
    print(
        f"prebuilt index at {os.path.abspath(args.output)}: commit {info['commit'][:12]}{dirty}, "
        f"files {report.files}, chunks {report.chunks}, embedded {report.embedded}, "
        f"{report.seconds:.1f}s"
    )
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    if args.output:
        return cmd_build_prebuilt(args)
    ws = _workspace(args.path, _config(args))
    if args.executor == "ray":
        from codequest.distributed import index_workspace_on_ray

        report = index_workspace_on_ray(
            ws, address=args.address, workers=args.workers, progress=_Progress(not args.json)
        )
    else:
        _note_if_locked(ws)
        report = ws.index(progress=_Progress(not args.json))
    if not args.json:
        # Prepare the query encoder now so the first search is fast.
        ws.query_encoder()
    if report.limit_hit:
        # On stderr in both modes, so --json output stays parseable.
        print(f"warning: {report.limit_hit}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return 0
    if report.rebuilt:
        print(f"note: {report.rebuild_reason}", file=sys.stderr)
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(report.skipped.items())) or "none"
    rate = (
        report.embedded / report.timings.get("embedding", 0)
        if report.timings.get("embedding")
        else 0
    )
    print(
        f"files {report.files}  chunks {report.chunks}  embedded {report.embedded}  "
        f"reused {report.reused}  removed files {report.removed_files}  "
        f"skipped: {skipped}  {report.seconds:.1f}s"
        + (f"  ({rate:.0f} chunks/s embedding)" if rate else "")
    )
    return 0


def _note_if_locked(ws: Workspace) -> None:
    """Say why we seem to hang when another process (an editor's server) is indexing."""
    from codequest.index.persist import writer_lock

    with writer_lock(ws.cache_dir, wait=False) as free:
        if not free:
            print(
                f"waiting for another CodeQuest process that is indexing {ws.root} ...",
                file=sys.stderr,
                flush=True,
            )


def cmd_search(args: argparse.Namespace) -> int:
    from codequest.types import SearchFilters

    config = _config(args)
    ws = _workspace(args.path, config)
    if not ws.has_index() or ws.store.generation == 0:
        print(f"no index yet for {ws.root}; indexing first", file=sys.stderr)
        report = ws.index(progress=_Progress(True))
    elif ws.problem:
        print(f"note: {ws.problem}", file=sys.stderr)
        report = ws.index(progress=_Progress(True))
    else:
        report = None
    if report is not None and report.limit_hit:
        print(f"warning: {report.limit_hit}", file=sys.stderr)
    filters = SearchFilters(
        glob=args.glob, languages=tuple(args.lang or ()), exclude_tests=args.exclude_tests
    )
    results = ws.search(args.query, limit=args.k, filters=filters, explain=args.explain)
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2))
        return 0
    if not results:
        print("no results", file=sys.stderr)
        return 0
    for r in results:
        name = f" {r.symbol}" if r.symbol else ""
        print(f"{r.path}:{r.start_line}{name}  [{r.kind}, {r.score:.3f}]")
        if r.preview:
            print(f"    {r.preview}")
        if args.explain and r.explain:
            print("    " + "  ".join(f"{k}={v:.4f}" for k, v in r.explain.items()))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    ws = _workspace(args.path, _config(args))
    status = ws.status()
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        for key, value in status.items():
            print(f"{key}: {value}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from codequest.lsp.server import run_server
    except ImportError as err:
        raise UserError(f"the language server is unavailable: {err}") from err
    return run_server(tcp=args.tcp, debug=_debug(args))


def _build_parser() -> argparse.ArgumentParser:
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
    parser.add_argument("--version", action="version", version="codequest 0.1.0")
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

    _add_optional(add, "bench", "codequest.bench_cli", "run the benchmarks")
    _add_optional(add, "distill", "codequest.distill.cli", "train a distilled query encoder")
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


def _debug(args: argparse.Namespace | None = None) -> bool:
    flag = bool(getattr(args, "debug", False))
    return flag or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def exit_status(err: BaseException) -> int:
    """2 for a problem the user can fix (a :class:`~codequest.errors.UserError`: a path, a
    setting, a model, an index; or the file system), 1 for anything else: a bug."""
    return EXIT_USER_ERROR if isinstance(err, (UserError, OSError)) else EXIT_INTERNAL_ERROR


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__


@contextlib.contextmanager
def _quiet_libraries(debug: bool) -> Iterator[None]:
    """Keep third-party warnings and log records off the terminal, unless ``debug``."""
    with warnings.catch_warnings():
        levels = {name: logging.getLogger(name).level for name in THIRD_PARTY_LOGGERS}
        if not debug:
            warnings.simplefilter("ignore")
            for name in THIRD_PARTY_LOGGERS:
                logging.getLogger(name).setLevel(logging.ERROR)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _log_lines(debug: bool) -> Iterator[None]:
    """CodeQuest's own log records as one ``codequest: ...`` line each on stderr, for the
    duration of a command; other records only with ``debug``, named.

    Without a handler of its own, the root logger would print third-party records through
    logging's last resort. (The language server configures its own log instead.)
    """
    ours = logging.getLogger("codequest")
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("codequest: %(message)s"))
    others: logging.Handler = logging.NullHandler()
    if debug:
        others = logging.StreamHandler(sys.stderr)
        others.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
        others.setLevel(logging.WARNING)
    saved = (ours.level, ours.propagate)
    ours.addHandler(handler)
    ours.setLevel(logging.DEBUG if debug else logging.WARNING)
    ours.propagate = False
    root.addHandler(others)
    try:
        yield
    finally:
        ours.removeHandler(handler)
        ours.setLevel(saved[0])
        ours.propagate = saved[1]
        root.removeHandler(others)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Building the parser imports the optional sub-commands' modules: quiet from the start.
    debug = _debug() or "--debug" in argv
    with _quiet_libraries(debug):
        try:
            args = _build_parser().parse_args(argv)
            debug = _debug(args)
            lines = contextlib.nullcontext() if args.command == "serve" else _log_lines(debug)
            with lines:
                result: int = args.func(args)
            return result
        except KeyboardInterrupt:
            print("codequest: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # `codequest search ... | head` closes the pipe early; that is not an error.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except Exception as err:  # noqa: BLE001 - every error ends as one line, see exit_status
            status = exit_status(err)
            if debug:
                traceback.print_exc()
            if status == EXIT_USER_ERROR:
                print(f"codequest: error: {_one_line(err)}", file=sys.stderr)
            else:
                hint = "" if debug else f"; run with --debug (or {DEBUG_ENV}=1) for the traceback"
                print(
                    f"codequest: internal error: {type(err).__name__}: {_one_line(err)}{hint}",
                    file=sys.stderr,
                )
            return status


if __name__ == "__main__":
    raise SystemExit(main())
