"""Interleaved A/B of ``codequest/search`` round trips between two (or more) checkouts.

A shared machine's speed drifts between runs by more than most changes are worth
(benchmarks/README.md), so a change to the server is measured fairly only when both
versions run side by side, on the same store, taking turns. This starts one
``codequest serve`` per source tree (``PYTHONPATH=<tree>/server``), warms each up, then
sends blocks of queries to each in turn, reversing the order every block, and reports the
p50 / p90 / p99 of each::

    git worktree add --detach /tmp/base HEAD~1
    python -m benchmarks.lsp_ab /tmp/base . --folder STORE_ROOT/src --cache-dir ../store

``--folder`` is the folder the servers open, and ``--cache-dir`` its index folder relative
to it. For the synthetic stores of ``codequest bench``, the folder is
``$CODEQUEST_HOME/bench-cache/synthetic/<size>-<key>/src`` and the cache dir ``../store``
(``--model hashing`` for a hashing store). Each tree must have its own ``server/``
package; the Python that runs this script runs every server.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.beir import load_beir, unique_queries
from benchmarks.common import eval_root, latency_stats, mb, proc_status
from benchmarks.lsp_bench import READY_TIMEOUT
from benchmarks.lsp_client import LspClient, LspError


def cosqa_queries(count: int) -> list[str]:
    """The first ``count`` CoSQA test and dev queries: the set the LSP benchmark times."""
    folder = eval_root() / "cosqa"
    return unique_queries(load_beir(folder, "test"), load_beir(folder, "dev"))[:count]


def start_server(tree: Path, folder: Path, settings: Mapping[str, Any]) -> LspClient:
    """A ``codequest serve`` from ``tree``'s sources, indexed and ready."""
    server_dir = tree / "server"
    if not (server_dir / "codequest").is_dir():
        raise LspError(f"{tree} has no server/codequest package")
    env = {**os.environ, "PYTHONPATH": str(server_dir.resolve()), "PYTHONUNBUFFERED": "1"}
    client = LspClient(
        [sys.executable, "-m", "codequest", "serve"], cwd=folder, env=env, settings=settings
    )
    try:
        client.initialize(folder, settings)
        client.wait_indexed(timeout=READY_TIMEOUT)
    except LspError as err:
        client.close()
        raise LspError(f"{tree}: {err}") from err
    except Exception:
        client.close()
        raise
    return client


def interleaved(
    clients: Sequence[LspClient],
    queries: Sequence[str],
    *,
    rounds: int,
    block: int,
    pause_s: float = 0.0,
    limit: int = 20,
) -> list[list[float]]:
    """Round-trip seconds per client: blocks of queries to each in turn, order reversed
    every block (and every round), so neither side always goes first."""
    timings: list[list[float]] = [[] for _ in clients]
    for round_no in range(rounds):
        for start in range(0, len(queries), block):
            order = list(range(len(clients)))
            if (start // block + round_no) % 2:
                order.reverse()
            for k in order:
                for query in queries[start : start + block]:
                    if pause_s:
                        time.sleep(pause_s)
                    t0 = time.perf_counter()
                    clients[k].request("codequest/search", {"query": query, "limit": limit})
                    timings[k].append(time.perf_counter() - t0)
    return timings


def run(
    trees: Sequence[Path],
    folders: Sequence[Path],
    settings: Sequence[Mapping[str, Any]],
    queries: Sequence[str],
    *,
    rounds: int = 2,
    block: int = 25,
    warmup: int = 30,
    pause_s: float = 0.0,
) -> list[dict[str, Any]]:
    """Start a server per tree (on its folder, with its settings), warm each, time them
    interleaved; one stats row per tree."""
    clients: list[LspClient] = []
    try:
        for tree, folder, tree_settings in zip(trees, folders, settings, strict=True):
            clients.append(start_server(tree, folder, tree_settings))
        for client in clients:
            for query in queries[:warmup]:
                client.request("codequest/search", {"query": query, "limit": 20})
        timings = interleaved(clients, queries, rounds=rounds, block=block, pause_s=pause_s)
        memory = [mb(proc_status(client.pid).get("VmRSS")) for client in clients]
    finally:
        for client in clients:
            client.close()
    return [
        {"tree": str(tree), **latency_stats(seconds), "p90_ms": _p90(seconds), "rss_mb": rss}
        for tree, seconds, rss in zip(trees, timings, memory, strict=True)
    ]


def _p90(seconds: Sequence[float]) -> float:
    """The 90th percentile in ms, interpolated as ``latency_stats`` does its others."""
    return round(float(np.percentile(np.asarray(seconds) * 1000.0, 90)), 4)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lsp_ab", description=__doc__)
    parser.add_argument("trees", nargs="+", type=Path, help="source trees (repo roots) to compare")
    parser.add_argument(
        "--folder",
        type=Path,
        action="append",
        required=True,
        help="folder the servers open; once per tree when each has its own copy (a store "
        "format that only one of them reads)",
    )
    parser.add_argument(
        "--cache-dir",
        action="append",
        help="its index folder, relative to --folder (once, or once per tree)",
    )
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--query-encoder", default="auto")
    parser.add_argument("--queries", type=int, default=300, help="how many CoSQA queries")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--block", type=int, default=25, help="queries per turn")
    parser.add_argument("--pause-ms", type=float, default=0.0, help="pause before each query")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)

    if len(args.trees) < 2:
        parser.error("give at least two source trees to compare")
    count = len(args.trees)
    folders = args.folder if len(args.folder) > 1 else args.folder * count
    cache_dirs = args.cache_dir or [None]
    cache_dirs = cache_dirs if len(cache_dirs) > 1 else cache_dirs * count
    if len(folders) != count or len(cache_dirs) != count:
        parser.error("give --folder and --cache-dir once, or once per tree")
    settings: list[dict[str, Any]] = []
    for cache_dir in cache_dirs:
        one: dict[str, Any] = {"model": args.model, "queryEncoder": args.query_encoder}
        if cache_dir:
            one["cacheDir"] = cache_dir
        settings.append(one)
    try:
        rows = run(
            [t.resolve() for t in args.trees],
            [f.resolve() for f in folders],
            settings,
            cosqa_queries(args.queries),
            rounds=args.rounds,
            block=args.block,
            pause_s=args.pause_ms / 1000,
        )
    except (LspError, OSError) as err:
        print(f"lsp_ab: {err}", file=sys.stderr)
        return 1
    for row in rows:
        print(
            f"{row['tree']:<40} n {row['n']:>5}  p50 {row['p50_ms']:.2f}  "
            f"p90 {row['p90_ms']:.2f}  p99 {row['p99_ms']:.2f} ms  RSS {row['rss_mb']} MB"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"settings": settings, "folders": [str(f) for f in folders], "rows": rows}, indent=2
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
