"""A short soak (benchmarks/soak.py): searches in bursts against a real server while files
change. The long one is ``codequest bench --sections soak`` (thousands of requests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from benchmarks.soak import INVALID_PARAMS, run_soak


def check(report: dict[str, Any], requests: int) -> None:
    assert report["errors"] == 0, report["error_samples"]
    assert report["answered"] == report["requests"] >= requests
    assert report["invalid_requests_refused"] == len(INVALID_PARAMS)
    assert report["stale_results"] == 0, "a result for a file deleted before the request"
    assert report["file_changes"] >= 3 and not report["change_errors"]
    assert report["bursts"] > 0
    # Not a speed check (CI machines are shared): a stall detector. A search that waits out
    # the watcher's 5 s SETTLE_TIMEOUT (a removal starved behind searches in one thread pool)
    # lands well above this bound; ordinary searches under load stay far below it.
    assert report["latency"]["p99_ms"] < 2500
    assert report["rss_mb"]["growth"] < 100, report["rss_mb"]
    assert report["server"]["exit_code"] == 0
    assert report["server"]["tracebacks_logged"] == 0, report["server"]["stderr_tail"]


def test_short_soak_against_the_language_server(tmp_path: Path) -> None:
    report = run_soak(
        target="lsp", requests=800, burst=16, files=80, change_every=0.15, workdir=tmp_path
    )
    check(report, 800)
    assert report["target"] == "lsp" and report["latency"]["n"] == report["answered"]


def test_short_soak_against_the_engine(tmp_path: Path) -> None:
    report = run_soak(
        target="engine", requests=400, burst=16, files=60, change_every=0.1, workdir=tmp_path
    )
    check(report, 400)


def test_an_unknown_target_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown soak target 'ftp'"):
        run_soak(target="ftp", requests=1, workdir=tmp_path)
