"""``codequest/search`` round trips against a real ``codequest serve`` process.

The server is started over stdio with ``cacheDir`` pointing at a prebuilt synthetic store
(:mod:`benchmarks.synthetic`) whose source files exist on disk with the recorded sizes and
mtimes, so its startup index pass finds nothing to do. The store is keyed by model
identity (``Store.load(model=...)``), so the server is configured with the model the
store was built for:

* ``hashing``: the store holds 256-d vectors under the hashing encoder's identity; the
  server's query encoder is then the hashing encoder (tens of microseconds), so the round
  trip is transport + search.
* the real teacher (identity trick): the store is written under the teacher's identity
  with 384-d vectors, and the server embeds each query with its configured query encoder
  (ONNX), so the round trip is what an editor sees.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from benchmarks.common import latency_stats, round_stats, rss_mb
from benchmarks.lsp_client import LspClient, LspError

READY_TIMEOUT = 600.0
# Queries timed after a pause (``codequest bench --pause-ms``), as between an editor
# user's keystrokes (the extension sends a query 150 ms after the last one). Back-to-back
# queries find the encoder's weights and the index in the CPU caches; after a pause, on a
# shared machine, much of that is gone.
PAUSED_QUERIES = 150


def server_available() -> str | None:
    """None when ``codequest serve`` can run here, else why not."""
    try:
        spec = importlib.util.find_spec("codequest.lsp.server")
    except (ImportError, ValueError) as err:
        return f"codequest.lsp.server cannot be imported: {err}"
    if spec is None:
        return "codequest.lsp.server does not exist (the language server is not built yet)"
    return None


def _server_rss_mb(pid: int) -> float | None:
    try:
        return rss_mb(pid)
    except Exception:  # noqa: BLE001 - psutil missing or the process gone
        return None


def lsp_roundtrip(
    src_dir: Path,
    store_dir: Path,
    settings: Mapping[str, Any],
    queries: Sequence[str],
    *,
    warmup: int = 20,
    limit: int = 20,
    expected_chunks: int | None = None,
    rounds: int = 1,
    pause_s: float = 0.0,
    paused_queries: int = PAUSED_QUERIES,
) -> dict[str, Any]:
    """Start a server on ``src_dir`` with ``settings`` (plus ``cacheDir``) and time searches.

    ``rounds`` passes send the queries back to back. With ``pause_s``, one more pass over
    the first ``paused_queries`` queries waits that long before each (``after_pause``).

    Returns ``{"status": "ok", ...}`` with latency stats, time to ready and the server's
    RSS, or ``{"status": "unavailable" | "error", "reason": ...}``; never raises.
    """
    reason = server_available()
    if reason is not None:
        return {"status": "unavailable", "reason": reason}
    # Relative: the server uses it as is (root / cacheDir). An absolute cacheDir would get a
    # per-folder subfolder (lsp.config.folder_config) and the server would build its own.
    options = {**settings, "cacheDir": os.path.relpath(store_dir, src_dir)}
    with tempfile.TemporaryDirectory(prefix="codequest-serve-") as tmp:
        log_path = Path(tmp) / "serve.log"
        with open(log_path, "wb") as log_file:
            out = _run(
                src_dir,
                options,
                queries,
                log_file,
                warmup=warmup,
                limit=limit,
                expected_chunks=expected_chunks,
                rounds=rounds,
                pause_s=pause_s,
                paused_queries=paused_queries,
            )
        if out.get("status") != "ok":
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            out["server_log_tail"] = tail
    return out


def _run(
    src_dir: Path,
    options: dict[str, Any],
    queries: Sequence[str],
    log_file: IO[bytes],
    *,
    warmup: int,
    limit: int,
    expected_chunks: int | None,
    rounds: int,
    pause_s: float,
    paused_queries: int,
) -> dict[str, Any]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    client = LspClient(
        [sys.executable, "-m", "codequest", "serve"],
        cwd=src_dir,
        env=env,
        stderr=log_file,
        settings=options,
    )
    out: dict[str, Any] = {"settings": options}
    try:
        client.initialize(src_dir, options)
        client.wait_indexed(timeout=READY_TIMEOUT)
        out["ready_s"] = round(time.perf_counter() - started, 2)
        status = client.request(
            "workspace/executeCommand", {"command": "codequest.status", "arguments": []}
        )
        folders = (status or {}).get("folders") or [{}]
        out["server_status"] = folders[0]
        if expected_chunks is not None and folders[0].get("chunks") != expected_chunks:
            raise LspError(
                f"the server holds {folders[0].get('chunks')} chunks, not the prebuilt "
                f"store's {expected_chunks}: it did not serve the store it was pointed at"
            )
        first = client.request("codequest/search", {"query": queries[0], "limit": limit})
        results = (first or {}).get("results", [])
        if not results:
            raise LspError(f"the first search returned no results: {first!r:.300}")
        for q in queries[:warmup]:
            client.request("codequest/search", {"query": q, "limit": limit})
        passes: list[list[float]] = []
        for _ in range(rounds):
            seconds: list[float] = []
            for q in queries:
                t0 = time.perf_counter()
                client.request("codequest/search", {"query": q, "limit": limit})
                seconds.append(time.perf_counter() - t0)
            passes.append(seconds)
        if pause_s > 0:
            paused: list[float] = []
            for q in queries[:paused_queries]:
                time.sleep(pause_s)
                t0 = time.perf_counter()
                client.request("codequest/search", {"query": q, "limit": limit})
                paused.append(time.perf_counter() - t0)
            out["after_pause"] = {"pause_ms": round(pause_s * 1000), **latency_stats(paused)}
        logs = [
            str((m.get("params") or {}).get("message", ""))
            for m in client.notifications
            if m.get("method") == "window/logMessage"
        ]
        out["server_index_log"] = next((x for x in logs if "indexed" in x), "")
        out.update(
            {
                "status": "ok",
                "server_rss_mb": _server_rss_mb(client.pid),
                "results_first_query": len(results),
                "limit": limit,
                **round_stats(passes),
            }
        )
    except (LspError, OSError, ValueError) as err:
        out.update({"status": "error", "reason": str(err)})
    finally:
        client.close()
    return out
