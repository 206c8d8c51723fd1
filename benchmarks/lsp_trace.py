"""Where a ``codequest/search`` round trip's time goes, back to back and after a pause.

    python -m benchmarks.lsp_trace --folder STORE_ROOT/src --cache-dir ../store \\
        [--tree .] [--queries 300] [--pause-ms 100] [--json OUT]

Starts ``codequest serve`` from ``--tree`` wrapped by this module (``serve`` below), which
timestamps each search at its steps, in this process's clock (``time.perf_counter``: the
same monotonic clock in both processes on Linux): the stdin thread has the message, the
search starts, the query encode and the helper thread's lexical side start and end, the
vector search, the ranking stage and ``collect``, the reply is built and written. The
client adds when it sent the request and when it had the reply. Each query is timed
twice, back to back and after ``--pause-ms`` of idleness (as between keystrokes), in
alternating blocks, and the medians of every step are printed side by side. The server
itself has no trace hook: the wrapper patches it in its own process only.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import REPO_ROOT
from benchmarks.lsp_client import LspClient

_now = time.perf_counter
_records: list[dict[str, float]] = []
_current: dict[str, float] = {}  # the search being traced (searches run one at a time)
_usage_at_read: Any = None  # the stdin thread's rusage when it had the message


def _thread_usage() -> Any:
    return resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))


def _mark(name: str) -> None:
    _current.setdefault(name, _now())


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _mark(f"{name}>")
        try:
            return fn(*args, **kwargs)
        finally:
            _current[f"{name}<"] = _now()

    return wrapper


def install(out: Path) -> None:
    """Patch the server's steps in this process (the ``serve`` wrapper)."""
    from codequest.lsp import encoder, inline, protocol, search, transport
    from codequest.search import searcher
    from codequest.workspace import Workspace

    next_body = transport.FrameReader.next_body

    def traced_next_body(self: Any) -> bytes | None:
        global _usage_at_read
        body = next_body(self)
        if threading.current_thread().name == "codequest-stdin":
            _current.clear()
            _current["read"] = _now()
            _usage_at_read = _thread_usage()
        return body

    transport.FrameReader.next_body = traced_next_body  # type: ignore[method-assign]
    answer = inline.answer_inline

    def traced_answer(ls: Any, body: bytes, queued: Any = list) -> bool:
        _current["inline"] = _now()
        answered = answer(ls, body, queued)
        if answered and "engine>" in _current:
            _current["done"] = _now()
            usage = _thread_usage()
            counts = {
                f"count:{name}": getattr(usage, name) - getattr(_usage_at_read, name)
                for name in ("ru_minflt", "ru_majflt", "ru_nvcsw", "ru_nivcsw")
            }
            _records.append({**_current, **counts, "id": json.loads(body)["id"]})
        return answered

    inline.answer_inline = traced_answer
    search.run_search = _timed("reply", search.run_search)  # type: ignore[attr-defined]
    Workspace.search = _timed("engine", Workspace.search)  # type: ignore[method-assign]
    encoder.SharedQueryEncoder.encode_query = _timed(  # type: ignore[method-assign]
        "encode", encoder.SharedQueryEncoder.encode_query
    )
    searcher.Searcher._lexical_side = _timed(  # type: ignore[method-assign]
        "lexical", searcher.Searcher._lexical_side
    )
    protocol.CodeQuestProtocol._send_response = _timed(  # type: ignore[method-assign]
        "write", protocol.CodeQuestProtocol._send_response
    )
    for name in ("dense_hits", "gather", "weighted", "collect"):
        setattr(searcher, name, _timed(name, getattr(searcher, name)))

    def dump() -> None:
        with open(out, "w", encoding="utf-8") as fh:
            for record in _records:
                fh.write(json.dumps(record) + "\n")

    atexit.register(dump)


# -- the client ----------------------------------------------------------------------------------
STEPS = (
    ("stdin thread wakes", "sent", "read"),
    ("to the search", "read", "engine>"),
    ("encode", "encode>", "encode<"),
    ("helper starts after encode start", "encode>", "lexical>"),
    ("lexical side", "lexical>", "lexical<"),
    ("wait for helper after encode", "encode<", "lexical<"),
    ("vector search", "dense_hits>", "dense_hits<"),
    ("gather", "gather>", "gather<"),
    ("weighted", "weighted>", "weighted<"),
    ("collect", "collect>", "collect<"),
    ("engine search", "engine>", "engine<"),
    ("ranges and JSON", "engine<", "reply<"),
    ("to the write", "reply<", "write>"),
    ("write", "write>", "write<"),
    ("client has the reply", "write<", "received"),
    ("round trip", "sent", "received"),
)


COUNTS = (  # per search, on the stdin thread, from getrusage(RUSAGE_THREAD)
    ("page faults (minor)", "count:ru_minflt"),
    ("voluntary context switches", "count:ru_nvcsw"),
    ("involuntary context switches", "count:ru_nivcsw"),
)


def step_medians(records: Sequence[dict[str, float]]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for label, start, end in STEPS:
        spans = [r[end] - r[start] for r in records if start in r and end in r]
        out[label] = round(float(np.median(spans)) * 1000, 3) if spans else None
    for label, key in COUNTS:
        values = [r[key] for r in records if key in r]
        out[label] = round(float(np.mean(values)), 2) if values else None
    p99 = [r["received"] - r["sent"] for r in records]
    out["round trip p99"] = round(float(np.percentile(p99, 99)) * 1000, 3) if p99 else None
    return out


def run(
    tree: Path,
    folder: Path,
    settings: dict[str, Any],
    queries: Sequence[str],
    *,
    pause_s: float,
    block: int = 25,
    warmup: int = 30,
) -> dict[str, Any]:
    trace = Path(os.environ.get("TMPDIR", "/tmp")) / f"lsp-trace-{os.getpid()}.jsonl"
    python_path = os.pathsep.join([str((tree / "server").resolve()), str(REPO_ROOT)])
    env = {**os.environ, "PYTHONPATH": python_path, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "benchmarks.lsp_trace", "serve", "--out", str(trace)]
    client = LspClient(command, cwd=folder, env=env, settings=settings)
    sent: dict[int, tuple[str, float, float]] = {}  # request id -> (mode, sent, received)
    try:
        client.initialize(folder, settings)
        client.wait_indexed(timeout=600)
        for query in queries[:warmup]:
            client.request("codequest/search", {"query": query, "limit": 20})
        for start in range(0, len(queries), block):
            for mode in (
                ("back to back", "after pause")
                if start // block % 2 == 0
                else (
                    "after pause",
                    "back to back",
                )
            ):
                for query in queries[start : start + block]:
                    if mode == "after pause":
                        time.sleep(pause_s)
                    t0 = _now()
                    client.request("codequest/search", {"query": query, "limit": 20})
                    sent[client._next_id] = (mode, t0, _now())
    finally:
        client.close()
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    trace.unlink()
    by_mode: dict[str, list[dict[str, float]]] = {}
    for record in records:
        if record["id"] in sent:  # searches answered on the stdin thread (all, once warm)
            mode, t0, t1 = sent[record["id"]]
            by_mode.setdefault(mode, []).append({**record, "sent": t0, "received": t1})
    return {
        "records": by_mode,
        "tree": str(tree),
        "pause_ms": round(pause_s * 1000),
        "queries": len(queries),
        "traced": {mode: len(rows) for mode, rows in by_mode.items()},
        "medians_ms": {mode: step_medians(rows) for mode, rows in by_mode.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:  # the server wrapper
        out = Path(argv[argv.index("--out") + 1])
        install(out)
        from codequest.cli import main as codequest_main

        return codequest_main(["serve"])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lsp_trace", description=__doc__)
    parser.add_argument("--tree", type=Path, default=REPO_ROOT)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--cache-dir")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--pause-ms", type=float, default=100.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    from benchmarks.lsp_ab import cosqa_queries

    settings: dict[str, Any] = {"model": args.model, "queryEncoder": "auto"}
    if args.cache_dir:
        settings["cacheDir"] = args.cache_dir
    result = run(
        args.tree.resolve(),
        args.folder.resolve(),
        settings,
        cosqa_queries(args.queries),
        pause_s=args.pause_ms / 1000,
    )
    modes = list(result["medians_ms"])
    records = result.pop("records")
    if args.json:
        args.json.write_text(json.dumps({**result, "records": records}) + "\n")
    print(f"{'step (median ms; counts: mean)':<36}" + "".join(f"{m:>16}" for m in modes))
    labels = [label for label, _, _ in STEPS] + [label for label, _ in COUNTS]
    for label in [*labels, "round trip p99"]:
        cells = [result["medians_ms"][m][label] for m in modes]
        print(f"{label:<36}" + "".join(f"{'-' if c is None else c:>16}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
