"""A short run of benchmarks/soak.py: searches in bursts against a real server while
files change. The full soak is ``python -m benchmarks.soak`` (thousands of requests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks.soak import INVALID_PARAMS, main, run_soak

from codequest.lsp.watching import SETTLE_TIMEOUT


def check(report: dict, requests: int) -> None:
    assert report["errors"] == 0, report["error_samples"]
    assert report["answered"] == report["requests"] >= requests
    assert report["invalid_requests_refused"] == len(INVALID_PARAMS)
    assert report["stale_results"] == 0, "a result for a file deleted before the request"
    assert report["file_changes"] >= 3 and not report["change_errors"]
    assert report["bursts"] > 0
    # Not a speed check (the speed figures are codequest bench's): no search waited out the
    # watcher's SETTLE_TIMEOUT, as every search did when a removal starved behind searches
    # in one thread pool. Such a wait lasts the whole timeout; nothing else comes near it.
    assert report["latency"]["max_ms"] < SETTLE_TIMEOUT * 1000, report["latency"]
    assert report["rss_mb"]["growth"] < 100, report["rss_mb"]
    assert report["server"]["exit_code"] == 0


def test_short_soak_against_the_language_server(tmp_path: Path):
    report = run_soak(
        target="lsp", requests=800, burst=16, files=80, change_every=0.15, workdir=tmp_path
    )
    check(report, 800)


def test_short_soak_against_the_engine(tmp_path: Path):
    report = run_soak(
        target="engine", requests=400, burst=16, files=60, change_every=0.1, workdir=tmp_path
    )
    check(report, 400)


def test_the_script_writes_its_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "soak.json"
    code = main(["--target", "engine", "--requests", "40", "--files", "20", "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report == json.loads(capsys.readouterr().out)
    assert {"latency", "rss_mb", "errors", "git"} <= set(report)
