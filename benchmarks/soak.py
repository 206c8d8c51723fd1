"""Soak test: thousands of searches, single and in concurrent bursts, while files change.

Drives a real ``python -m codequest serve`` over stdio (``--target lsp``, the default)
with a small threaded JSON-RPC client, or a :class:`~codequest.workspace.Workspace` in
this process (``--target engine``). Meanwhile a changer edits, adds, deletes and renames
files and tells the server (``workspace/didChangeWatchedFiles``), so searches race
re-indexing the whole time. A few deliberately invalid requests check that bad input is
answered with an error and harms nothing.

Reports, as JSON: requests answered, errors (with samples), p50/p95/p99 latency, server
RSS at the start and end of the measured phase and its growth, file changes made, plus
the commit and machine. Loopback only; the hashing encoder by default, so no model loads.

    python -m benchmarks.soak --requests 5000 --burst 32 --out benchmarks/results/soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

WORDS = (
    "read", "parse", "write", "load", "save", "fetch", "retry", "compute", "hash", "merge",
    "split", "join", "encode", "decode", "sort", "filter", "render", "validate", "cache",
    "lookup", "resolve", "connect", "send", "token", "config", "header", "stream", "buffer",
)
QUERIES = (
    "read a json config file",
    "retry the request with backoff",
    "compute a hash of the buffer",
    "merge two sorted lists",
    "parse_header",
    "decodeStream",
    "where is the cache invalidated?",
    "send bytes over a connection",
    "validate token",
    "split lines and join them",
)


# -- the project ------------------------------------------------------------------------
def _python(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        a, b = rng.sample(WORDS, 2)
        out.append(
            f"def {a}_{b}_{rng.randint(0, 9999)}(data, options=None):\n"
            f'    """{a.title()} the {b} and return it."""\n'
            f"    value = {rng.choice(WORDS)}(data)\n"
            f"    return value * {rng.randint(1, 9)}\n\n\n"
        )
    return "".join(out)


def _javascript(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        a, b = rng.sample(WORDS, 2)
        out.append(
            f"function {a}{b.title()}{rng.randint(0, 9999)}(input) {{\n"
            f"  const result = {rng.choice(WORDS)}(input);\n"
            f"  return result + {rng.randint(1, 9)};\n}}\n\n"
        )
    return "".join(out)


def _go(rng: random.Random, n: int) -> str:
    out = ["package main\n\n"]
    for _ in range(n):
        a, b = rng.sample(WORDS, 2)
        out.append(
            f"func {a.title()}{b.title()}{rng.randint(0, 9999)}(data []byte) int {{\n"
            f"\treturn len(data) * {rng.randint(1, 9)}\n}}\n\n"
        )
    return "".join(out)


MAKERS: tuple[tuple[str, Callable[[random.Random, int], str]], ...] = (
    (".py", _python),
    (".js", _javascript),
    (".go", _go),
)


def make_project(root: Path, files: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    for i in range(files):
        ext, make = MAKERS[i % len(MAKERS)]
        path = root / f"pkg{i % 8}" / f"mod_{i}{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make(rng, rng.randint(2, 6)), encoding="utf-8")


class Changer:
    """Edits, adds, deletes and renames files; reports each change through ``notify``."""

    CREATED, CHANGED, DELETED = 1, 2, 3

    def __init__(self, root: Path, seed: int, notify: Callable[[list[tuple[Path, int]]], None]):
        self.root = root
        self.rng = random.Random(seed)
        self.notify = notify
        self.changes = 0
        # When the client was told each path was deleted (perf_counter): a result for that
        # path from a request sent later is stale. Names are never reused.
        self.deleted_at: dict[Path, float] = {}

    def step(self) -> None:
        files = sorted(p for p in self.root.rglob("mod_*") if ".codequest" not in p.parts)
        events: list[tuple[Path, int]] = []
        roll = self.rng.random()
        if roll < 0.5 and files:
            path = self.rng.choice(files)
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace("return", "return 1 +", 1), encoding="utf-8")
            events.append((path, self.CHANGED))
        elif roll < 0.7 or len(files) < 10:
            ext, make = self.rng.choice(MAKERS)
            path = self.root / f"pkg{self.rng.randint(0, 7)}" / f"mod_new{self.changes}{ext}"
            path.parent.mkdir(exist_ok=True)
            path.write_text(make(self.rng, self.rng.randint(1, 5)), encoding="utf-8")
            events.append((path, self.CREATED))
        elif roll < 0.85:
            path = self.rng.choice(files)
            path.unlink()
            events.append((path, self.DELETED))
        else:
            path = self.rng.choice(files)
            target = path.with_name(f"mod_moved{self.changes}{path.suffix}")
            path.rename(target)
            events += [(path, self.DELETED), (target, self.CREATED)]
        self.changes += 1
        self.notify(events)
        told = time.perf_counter()
        for path, kind in events:
            if kind == self.DELETED:
                self.deleted_at[path] = told


# -- a threaded JSON-RPC client ---------------------------------------------------------------
class RpcError(RuntimeError):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class RpcClient:
    """Pipelined LSP client: any number of requests in flight, answered by a reader thread."""

    def __init__(self, command: list[str], *, env: dict[str, str], settings: dict[str, Any]):
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env,
        )
        self.settings = settings
        self._write_lock = threading.Lock()
        self._pending: dict[int, futures.Future[Any]] = {}
        self._pending_lock = threading.Lock()
        self._next_id = 0
        self.notifications: list[dict[str, Any]] = []
        self._notified = threading.Condition()
        self.stderr_tail: list[str] = []
        self.stderr_tracebacks = 0
        threading.Thread(target=self._read_loop, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        with self._write_lock:
            self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.process.stdin.flush()

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace")
            self.stderr_tracebacks += line.startswith("Traceback")
            self.stderr_tail = (self.stderr_tail + [line])[-50:]

    def _read_loop(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = -1
            while True:
                line = stream.readline()
                if not line:
                    self._fail_all("server closed its output")
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            message = json.loads(stream.read(length))
            if "method" in message and "id" in message:
                self._answer(message)
            elif "method" in message:
                with self._notified:
                    self.notifications.append(message)
                    self._notified.notify_all()
            else:
                with self._pending_lock:
                    future = self._pending.pop(message.get("id"), None)
                if future is not None:
                    if "error" in message:
                        err = message["error"]
                        future.set_exception(RpcError(err.get("code", 0), err.get("message", "")))
                    else:
                        future.set_result(message.get("result"))

    def _fail_all(self, why: str) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(RpcError(-1, why))

    def _answer(self, message: dict[str, Any]) -> None:
        result: Any = None
        if message["method"] == "workspace/configuration":
            items = (message.get("params") or {}).get("items") or [{}]
            result = [self.settings for _ in items]
        self._send({"id": message["id"], "result": result})

    def request(self, method: str, params: Any) -> futures.Future[Any]:
        future: futures.Future[Any] = futures.Future()
        with self._pending_lock:
            self._next_id += 1
            rid = self._next_id
            self._pending[rid] = future
        self._send({"id": rid, "method": method, "params": params})
        return future

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def wait_notification(self, predicate: Callable[[dict[str, Any]], bool], timeout: float
                          ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._notified:
            while True:
                for message in self.notifications[seen:]:
                    if predicate(message):
                        return message
                seen = len(self.notifications)
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise TimeoutError("no matching notification from the server")
                self._notified.wait(left)

    def close(self, timeout: float = 15.0) -> int | None:
        try:
            self.request("shutdown", None).result(timeout)
            self.notify("exit", None)
            return self.process.wait(timeout)
        except Exception:  # noqa: BLE001 - a stuck server is killed and reported
            self.process.kill()
            self.process.wait(5)
            return None


# -- targets ------------------------------------------------------------------------------------
def _rss_mb(pid: int) -> float:
    import psutil

    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


def _search_params(rng: random.Random, root: Path) -> dict[str, Any]:
    params: dict[str, Any] = {"query": rng.choice(QUERIES), "limit": rng.choice((5, 10, 20))}
    roll = rng.random()
    if roll < 0.15:
        params["filters"] = {"languages": [rng.choice(("python", "javascript", "go"))]}
    elif roll < 0.25:
        params["filters"] = {"glob": f"pkg{rng.randint(0, 7)}/**", "excludeTests": True}
    elif roll < 0.3:
        params["explain"] = True
    if rng.random() < 0.3:
        params["workspaceFolder"] = root.as_uri()
    return params


INVALID_PARAMS = (
    {"query": 42},
    {"query": "x", "limit": 0},
    {"query": "x", "filters": {"glob": "**/[z-a].py"}},
    {"query": "x", "filters": {"languages": "python"}},
)


class LspTarget:
    def __init__(self, root: Path, cache: Path) -> None:
        self.root = root
        settings = {"model": "hashing", "cacheDir": str(cache)}
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        self.client = RpcClient(
            [sys.executable, "-m", "codequest", "serve"], env=env, settings=settings
        )
        uri = root.as_uri()
        self.client.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": uri,
                "workspaceFolders": [{"uri": uri, "name": root.name}],
                "capabilities": {
                    "window": {"workDoneProgress": True},
                    "workspace": {
                        "configuration": True,
                        "workspaceFolders": True,
                        "didChangeWatchedFiles": {"dynamicRegistration": True},
                    },
                },
                "initializationOptions": settings,
            },
        ).result(120)
        self.client.notify("initialized", {})
        self.client.wait_notification(
            lambda m: m.get("method") == "codequest/indexStatus"
            and (m.get("params") or {}).get("state") == "ready",
            timeout=180,
        )

    @property
    def pid(self) -> int:
        return self.client.pid

    def search(self, params: dict[str, Any]) -> futures.Future[Any]:
        return self.client.request("codequest/search", params)

    def files_changed(self, events: list[tuple[Path, int]]) -> None:
        changes = [{"uri": path.as_uri(), "type": kind} for path, kind in events]
        self.client.notify("workspace/didChangeWatchedFiles", {"changes": changes})

    def result_paths(self, result: Any) -> list[Path]:
        from urllib.parse import unquote, urlparse

        return [Path(unquote(urlparse(r["uri"]).path)) for r in result["results"]]

    def close(self) -> dict[str, Any]:
        code = self.client.close()
        return {
            "exit_code": code,
            "tracebacks_logged": self.client.stderr_tracebacks,
            "stderr_tail": self.client.stderr_tail[-5:],
        }


class EngineTarget:
    """The same load on a Workspace in this process, handling changes as the server does:
    deletions are dropped at once, other changes trigger a debounced background index."""

    def __init__(self, root: Path, cache: Path) -> None:
        from codequest.config import Config
        from codequest.errors import InvalidQuery
        from codequest.types import SearchFilters
        from codequest.workspace import Workspace

        self.root = root
        self.ws = Workspace(root, Config(model="hashing", cache_dir=str(cache)))
        self.ws.index()
        self._filters = SearchFilters
        self._invalid = InvalidQuery
        self.pool = futures.ThreadPoolExecutor(max_workers=8)
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._indexer = threading.Thread(target=self._index_loop, daemon=True)
        self._indexer.start()

    @property
    def pid(self) -> int:
        return os.getpid()

    def _index_loop(self) -> None:
        while not self._stop.is_set():
            if self._dirty.wait(0.1):
                time.sleep(0.2)  # debounce, as the server does
                self._dirty.clear()
                self.ws.index()

    def _search(self, params: dict[str, Any]) -> Any:
        query = params.get("query")
        limit = params.get("limit", 10)
        if not isinstance(query, str) or not isinstance(limit, int) or limit < 1:
            raise RpcError(-32602, f"invalid params {params!r}")
        raw = params.get("filters") or {}
        languages = raw.get("languages", [])
        if not isinstance(languages, list):
            raise RpcError(-32602, "languages must be a list")
        filters = self._filters(
            glob=raw.get("glob"), languages=tuple(languages),
            exclude_tests=bool(raw.get("excludeTests")),
        )
        try:
            results = self.ws.search(query, limit=limit, filters=filters,
                                     explain=bool(params.get("explain")))
        except self._invalid as err:
            raise RpcError(-32602, str(err)) from err
        return {"results": [r.to_json() for r in results]}

    def search(self, params: dict[str, Any]) -> futures.Future[Any]:
        return self.pool.submit(self._search, params)

    def files_changed(self, events: list[tuple[Path, int]]) -> None:
        # As the server does: deletions leave the results at once, the rest waits for a run.
        gone = [p.relative_to(self.root).as_posix() for p, k in events if k == Changer.DELETED]
        if gone:
            self.ws.remove_paths(gone)
        self._dirty.set()

    def result_paths(self, result: Any) -> list[Path]:
        return [self.root / r["path"] for r in result["results"]]

    def close(self) -> dict[str, Any]:
        self._stop.set()
        self._indexer.join(30)
        self.pool.shutdown()
        return {"exit_code": 0, "tracebacks_logged": 0, "stderr_tail": []}


# -- the soak -------------------------------------------------------------------------------------
MIN_CHANGES = 3


def run_soak(
    *,
    target: str = "lsp",
    requests: int = 2000,
    burst: int = 32,
    files: int = 150,
    change_every: float = 0.25,
    seed: int = 1234,
    workdir: Path | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Run the soak; returns the report (see the module docstring)."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="codequest-soak-", dir=workdir) as tmp:
        root = Path(tmp) / "project"
        make_project(root, files, seed)
        started = time.monotonic()
        impl: LspTarget | EngineTarget = (
            LspTarget(root, Path(tmp) / "cache") if target == "lsp"
            else EngineTarget(root, Path(tmp) / "cache")
        )
        ready_s = time.monotonic() - started
        latencies: list[float] = []
        errors: list[str] = []
        missing_paths = 0
        stale = 0
        changer = Changer(root, seed, impl.files_changed)
        stop = threading.Event()
        change_errors: list[str] = []

        def change_loop() -> None:
            while not stop.wait(change_every):
                try:
                    changer.step()
                except Exception as err:  # noqa: BLE001 - reported, the soak goes on
                    change_errors.append(repr(err))

        def run_batch(batch: list[dict[str, Any]]) -> None:
            nonlocal missing_paths, stale
            sent = time.perf_counter()
            pending = [(impl.search(p), p) for p in batch]
            for future, params in pending:
                try:
                    result = future.result(timeout)
                except Exception as err:  # noqa: BLE001 - every failure is counted
                    errors.append(f"{type(err).__name__}: {err} for {params}"[:300])
                    continue
                latencies.append(time.perf_counter() - sent)
                for path in impl.result_paths(result):
                    if not path.exists():
                        missing_paths += 1  # may have been deleted while we waited
                        told = changer.deleted_at.get(path)
                        stale += told is not None and told < sent

        # warm up, then measure memory from a steady state
        run_batch([_search_params(rng, root) for _ in range(20)])
        rss_start = _rss_mb(impl.pid)
        latencies.clear()
        changes_thread = threading.Thread(target=change_loop, daemon=True)
        changes_thread.start()
        measured = time.monotonic()
        rss_peak = rss_start
        done = 0
        bursts = 0
        # Keep searching until every request is sent and the files changed a few times, so a
        # fast machine cannot finish before the changer has run.
        while done < requests or (changer.changes < MIN_CHANGES and not change_errors):
            size = max(1, min(requests - done, burst if rng.random() < 0.5 else 1))
            bursts += size > 1
            run_batch([_search_params(rng, root) for _ in range(size)])
            done += size
            if done % 200 < size:
                rss_peak = max(rss_peak, _rss_mb(impl.pid))
        stop.set()
        changes_thread.join(10)

        # bad input is refused with an error, and the server keeps answering
        refused = 0
        for params in INVALID_PARAMS:
            try:
                impl.search(params).result(timeout)
            except RpcError:
                refused += 1
            except Exception as err:  # noqa: BLE001
                errors.append(f"invalid params {params}: {type(err).__name__}: {err}"[:300])
        after_bad = [impl.search({"query": q}) for q in QUERIES[:3]]
        for future in after_bad:
            try:
                future.result(timeout)
            except Exception as err:  # noqa: BLE001
                errors.append(f"after invalid params: {type(err).__name__}: {err}"[:300])
        rss_end = _rss_mb(impl.pid)
        duration = time.monotonic() - measured
        closed = impl.close()

    from benchmarks.common import git_info, latency_stats, load_average

    return {
        "benchmark": "soak",
        "target": target,
        "requests": done,
        "answered": len(latencies),
        "bursts": bursts,
        "burst_size": burst,
        "errors": len(errors),
        "error_samples": errors[:10],
        "invalid_requests_refused": refused,
        "invalid_requests": len(INVALID_PARAMS),
        "results_for_missing_files": missing_paths,
        "stale_results": stale,
        "latency": latency_stats(latencies),
        "throughput_rps": round(len(latencies) / duration, 1) if duration else 0.0,
        "rss_mb": {
            "start": rss_start,
            "peak": max(rss_peak, rss_end),
            "end": rss_end,
            "growth": round(rss_end - rss_start, 1),
        },
        "files": files,
        "file_changes": changer.changes,
        "change_errors": change_errors[:5],
        "ready_s": round(ready_s, 2),
        "duration_s": round(duration, 2),
        "server": closed,
        "seed": seed,
        "git": git_info(),
        "load_average": load_average(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=("lsp", "engine"), default="lsp")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--burst", type=int, default=32, help="requests in flight per burst")
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--change-every", type=float, default=0.25, metavar="SECONDS")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--out", type=Path, help="write the JSON report here too")
    args = parser.parse_args(argv)
    report = run_soak(
        target=args.target,
        requests=args.requests,
        burst=args.burst,
        files=args.files,
        change_every=args.change_every,
        seed=args.seed,
    )
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
