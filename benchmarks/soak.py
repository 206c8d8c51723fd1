"""Soak: thousands of searches, single and in concurrent bursts, while files change.

Drives a real ``python -m codequest serve`` over stdio (target ``lsp``) through the
benchmarks' one LSP client (:mod:`benchmarks.lsp_client`, requests pipelined in bursts),
or a :class:`~codequest.workspace.Workspace` in this process (target ``engine``).
Meanwhile a changer edits, adds, deletes and renames files and tells the server
(``workspace/didChangeWatchedFiles``), so searches race re-indexing the whole time. A few
deliberately invalid requests check that bad input is answered with an error and harms
nothing.

Reports, as JSON: requests answered, errors (with samples), p50/p95/p99 latency, server
RSS at the start and end of the measured phase and its growth, file changes made.
Loopback only, and the hashing encoder, so no model loads. It runs as the ``soak`` section
of ``codequest bench`` (not part of the default sections) and, shorter, as
``tests/test_soak_short.py``.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import unquote, urlparse

from benchmarks.common import latency_stats, rss_mb
from benchmarks.lsp_client import CAPABILITIES, LspClient, LspError

WORDS = (
    "read", "parse", "write", "load", "save", "fetch", "retry", "compute", "hash", "merge",
    "split", "join", "encode", "decode", "sort", "filter", "render", "validate", "cache",
    "lookup", "resolve", "connect", "send", "token", "config", "header", "stream", "buffer",
)  # fmt: skip
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


# -- targets ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Answer:
    """One search's outcome: a result, or why there is none, and how long it took."""

    result: Any = None
    error: str = ""
    refused: bool = False  # the error is the server's answer (bad input), not a failure
    seconds: float = 0.0


class Target(Protocol):
    pid: int

    def search_batch(self, batch: list[dict[str, Any]], timeout: float) -> list[Answer]: ...

    def files_changed(self, events: list[tuple[Path, int]]) -> None: ...

    def result_paths(self, result: Any) -> list[Path]: ...

    def close(self) -> dict[str, Any]: ...


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
    """A ``codequest serve`` process; each batch is sent at once and answered in any order."""

    def __init__(self, root: Path, cache: Path, log: IO[bytes]) -> None:
        self.root = root
        settings = {"model": "hashing", "cacheDir": str(cache)}
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        self.log = log
        self.client = LspClient(
            [sys.executable, "-m", "codequest", "serve"], env=env, stderr=log, settings=settings
        )
        self.pid = self.client.pid
        watching = {"didChangeWatchedFiles": {"dynamicRegistration": True}}
        capabilities = {**CAPABILITIES, "workspace": {**CAPABILITIES["workspace"], **watching}}
        try:
            self.client.initialize(root, settings, capabilities=capabilities, timeout=120)
            self.client.wait_indexed(timeout=180)
        except LspError:
            self.client.close()
            raise

    def search_batch(self, batch: list[dict[str, Any]], timeout: float) -> list[Answer]:
        sent = time.perf_counter()
        ids = [self.client.send("codequest/search", params) for params in batch]
        try:
            replies = self.client.collect(ids, timeout=timeout)
        except LspError as err:
            return [Answer(error=f"LspError: {err}") for _ in batch]
        answers = []
        for rid in ids:
            reply = replies[rid]
            seconds = reply.received - sent
            if reply.error is not None:
                answers.append(Answer(error=reply.describe_error(), refused=True, seconds=seconds))
            else:
                answers.append(Answer(reply.result, seconds=seconds))
        return answers

    def files_changed(self, events: list[tuple[Path, int]]) -> None:
        changes = [{"uri": path.as_uri(), "type": kind} for path, kind in events]
        self.client.notify("workspace/didChangeWatchedFiles", {"changes": changes})

    def result_paths(self, result: Any) -> list[Path]:
        return [Path(unquote(urlparse(r["uri"]).path)) for r in result["results"]]

    def close(self) -> dict[str, Any]:
        code = self.client.close(timeout=15)
        self.log.flush()
        lines = Path(self.log.name).read_text(encoding="utf-8", errors="replace").splitlines()
        return {
            "exit_code": code,
            "tracebacks_logged": sum(line.startswith("Traceback") for line in lines),
            "stderr_tail": lines[-5:],
        }


class Refused(ValueError):
    """Bad search parameters, refused as the server refuses them (invalid params)."""


class EngineTarget:
    """The same load on a Workspace in this process, handling changes as the server does:
    deletions are dropped at once, other changes trigger a debounced background index."""

    def __init__(self, root: Path, cache: Path) -> None:
        from codequest.config import Config
        from codequest.workspace import Workspace

        self.root = root
        self.pid = os.getpid()
        self.ws = Workspace(root, Config(model="hashing", cache_dir=str(cache)))
        self.ws.index()
        self.pool = futures.ThreadPoolExecutor(max_workers=8)
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._indexer = threading.Thread(target=self._index_loop, daemon=True)
        self._indexer.start()

    def _index_loop(self) -> None:
        while not self._stop.is_set():
            if self._dirty.wait(0.1):
                time.sleep(0.2)  # debounce, as the server does
                self._dirty.clear()
                self.ws.index()

    def _search(self, params: dict[str, Any]) -> dict[str, Any]:
        from codequest.errors import InvalidQuery
        from codequest.types import SearchFilters

        query = params.get("query")
        limit = params.get("limit", 10)
        if not isinstance(query, str) or not isinstance(limit, int) or limit < 1:
            raise Refused(f"invalid params {params!r}")
        raw = params.get("filters") or {}
        languages = raw.get("languages", [])
        if not isinstance(languages, list):
            raise Refused("languages must be a list")
        filters = SearchFilters(
            glob=raw.get("glob"),
            languages=tuple(languages),
            exclude_tests=bool(raw.get("excludeTests")),
        )
        try:
            results = self.ws.search(
                query, limit=limit, filters=filters, explain=bool(params.get("explain"))
            )
        except InvalidQuery as err:
            raise Refused(str(err)) from err
        return {"results": [r.to_json() for r in results]}

    def _answer(self, params: dict[str, Any], sent: float) -> Answer:
        try:
            result = self._search(params)
        except Refused as err:
            return Answer(error=str(err), refused=True, seconds=time.perf_counter() - sent)
        return Answer(result, seconds=time.perf_counter() - sent)

    def search_batch(self, batch: list[dict[str, Any]], timeout: float) -> list[Answer]:
        sent = time.perf_counter()
        pending = [self.pool.submit(self._answer, params, sent) for params in batch]
        answers = []
        for future in pending:
            try:
                answers.append(future.result(timeout))
            except Exception as err:  # noqa: BLE001 - every failure is counted
                answers.append(Answer(error=f"{type(err).__name__}: {err}"))
        return answers

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


@dataclass
class Tally:
    """What the measured searches saw."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    missing_paths: int = 0  # results for files gone by the time they were checked
    stale: int = 0  # results for files deleted before the request was sent

    def add(self, target: Target, changer: Changer, batch: list[dict[str, Any]]) -> None:
        sent = time.perf_counter()
        for answer, params in zip(target.search_batch(batch, TIMEOUT), batch, strict=True):
            if answer.error:
                self.errors.append(f"{answer.error} for {params}"[:300])
                continue
            self.latencies.append(answer.seconds)
            for path in target.result_paths(answer.result):
                if not path.exists():
                    self.missing_paths += 1  # may have been deleted while we waited
                    told = changer.deleted_at.get(path)
                    self.stale += told is not None and told < sent


TIMEOUT = 30.0  # seconds for one batch of searches


def _change_loop(changer: Changer, stop: threading.Event, every: float, errors: list[str]) -> None:
    while not stop.wait(every):
        try:
            changer.step()
        except Exception as err:  # noqa: BLE001 - reported, the soak goes on
            errors.append(repr(err))


def _refused_invalid(target: Target, tally: Tally) -> int:
    """Send the invalid requests, then three good ones: bad input must harm nothing."""
    refused = 0
    for params in INVALID_PARAMS:
        (answer,) = target.search_batch([dict(params)], TIMEOUT)
        if answer.refused:
            refused += 1
        else:
            tally.errors.append(f"invalid params {params}: {answer.error or 'answered'}"[:300])
    for answer in target.search_batch([{"query": q} for q in QUERIES[:3]], TIMEOUT):
        if answer.error:
            tally.errors.append(f"after invalid params: {answer.error}"[:300])
    return refused


def _open_target(kind: str, root: Path, cache: Path, log: IO[bytes]) -> Target:
    if kind == "lsp":
        return LspTarget(root, cache, log)
    if kind == "engine":
        return EngineTarget(root, cache)
    raise ValueError(f"unknown soak target {kind!r}; choose lsp or engine")


def run_soak(
    *,
    target: str = "lsp",
    requests: int = 2000,
    burst: int = 32,
    files: int = 150,
    change_every: float = 0.25,
    seed: int = 1234,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Run the soak; returns the report (see the module docstring)."""
    with (
        tempfile.TemporaryDirectory(prefix="codequest-soak-", dir=workdir) as tmp,
        open(Path(tmp) / "serve.log", "wb") as log,
    ):
        root = Path(tmp) / "project"
        make_project(root, files, seed)
        started = time.monotonic()
        impl = _open_target(target, root, Path(tmp) / "cache", log)
        ready_s = time.monotonic() - started
        try:
            report = _drive(impl, root, seed, requests, burst, change_every)
        finally:
            closed = impl.close()
    return {
        "target": target,
        **report,
        "files": files,
        "ready_s": round(ready_s, 2),
        "server": closed,
        "seed": seed,
    }


def _drive(
    impl: Target, root: Path, seed: int, requests: int, burst: int, change_every: float
) -> dict[str, Any]:
    """Warm up, then search in bursts while the changer runs; then the invalid requests."""
    rng = random.Random(seed)
    changer = Changer(root, seed, impl.files_changed)
    tally = Tally()
    tally.add(impl, changer, [_search_params(rng, root) for _ in range(20)])
    tally.latencies.clear()  # memory and latency are measured from a steady state
    rss_start = rss_peak = rss_mb(impl.pid)
    stop = threading.Event()
    change_errors: list[str] = []
    changes = threading.Thread(
        target=_change_loop, args=(changer, stop, change_every, change_errors), daemon=True
    )
    changes.start()
    measured = time.monotonic()
    done = bursts = 0
    # Keep searching until every request is sent and the files changed a few times, so a
    # fast machine cannot finish before the changer has run.
    while done < requests or (changer.changes < MIN_CHANGES and not change_errors):
        size = max(1, min(requests - done, burst if rng.random() < 0.5 else 1))
        bursts += size > 1
        tally.add(impl, changer, [_search_params(rng, root) for _ in range(size)])
        done += size
        if done % 200 < size:
            rss_peak = max(rss_peak, rss_mb(impl.pid))
    stop.set()
    changes.join(10)
    refused = _refused_invalid(impl, tally)
    rss_end = rss_mb(impl.pid)
    duration = time.monotonic() - measured
    return {
        "requests": done,
        "answered": len(tally.latencies),
        "bursts": bursts,
        "burst_size": burst,
        "errors": len(tally.errors),
        "error_samples": tally.errors[:10],
        "invalid_requests_refused": refused,
        "invalid_requests": len(INVALID_PARAMS),
        "results_for_missing_files": tally.missing_paths,
        "stale_results": tally.stale,
        "latency": latency_stats(tally.latencies),
        "throughput_rps": round(len(tally.latencies) / duration, 1) if duration else 0.0,
        "rss_mb": {
            "start": rss_start,
            "peak": max(rss_peak, rss_end),
            "end": rss_end,
            "growth": round(rss_end - rss_start, 1),
        },
        "file_changes": changer.changes,
        "change_errors": change_errors[:5],
        "duration_s": round(duration, 2),
    }
