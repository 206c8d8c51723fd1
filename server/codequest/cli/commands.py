"""The sub-commands that use the engine: index, search, status, serve."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from codequest.cli.output import Progress, debug_enabled
from codequest.config import Config
from codequest.errors import UserError

if TYPE_CHECKING:
    from codequest.workspace import Workspace


def config_of(args: argparse.Namespace) -> Config:
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
        args.path, args.output, config_of(args), progress=Progress(not args.json)
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
    ws = _workspace(args.path, config_of(args))
    if args.executor == "ray":
        from codequest.distributed import index_workspace_on_ray

        report = index_workspace_on_ray(
            ws, address=args.address, workers=args.workers, progress=Progress(not args.json)
        )
    else:
        _note_if_locked(ws)
        report = ws.index(progress=Progress(not args.json))
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

    config = config_of(args)
    ws = _workspace(args.path, config)
    if not ws.has_index() or ws.store.generation == 0:
        print(f"no index yet for {ws.root}; indexing first", file=sys.stderr)
        report = ws.index(progress=Progress(True))
    elif ws.problem:
        print(f"note: {ws.problem}", file=sys.stderr)
        report = ws.index(progress=Progress(True))
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
        # The line of the definition the result is named after, where an editor should open.
        print(f"{r.path}:{r.line or r.start_line}{name}  [{r.kind}, {r.score:.3f}]")
        if r.preview:
            print(f"    {r.preview}")
        if args.explain and r.explain:
            print("    " + "  ".join(f"{k}={v:.4f}" for k, v in r.explain.items()))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    ws = _workspace(args.path, config_of(args))
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
    return run_server(tcp=args.tcp, debug=debug_enabled(args))
