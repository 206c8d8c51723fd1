"""Workspace under the language server's threads: searches while an index run is going on.

The server indexes in one thread and answers searches in others. These tests hold an index
run in the middle (its progress callback waits on an event) and check that searches,
status and removals are answered meanwhile instead of waiting for the run to end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from codequest.workspace import Workspace

MakeWs = Callable[..., Workspace]
WAIT = 10.0  # generous: the calls under test take milliseconds


def many_files(count: int) -> dict[str, str]:
    return {
        f"pkg/mod_{i:03d}.py": f"def handler_{i:03d}(request):\n    return request.value + {i}\n"
        for i in range(count)
    }


class PausedRun:
    """An index run in a background thread, paused at its first progress report past 0."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.paused = threading.Event()
        self.resume = threading.Event()
        self.cancel = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.future = self.pool.submit(self._run)

    def _progress(self, done: int, total: int, message: str) -> None:
        if 0 < done < total and not self.paused.is_set():
            self.paused.set()
            assert self.resume.wait(WAIT), "the test never resumed the run"

    def _run(self) -> Any:
        return self.ws.index(progress=self._progress, cancel=self.cancel)

    def finish(self) -> Any:
        self.resume.set()
        try:
            return self.future.result(WAIT)
        finally:
            self.pool.shutdown()


@pytest.fixture
def paused(make_project: Callable[..., Path], make_workspace: MakeWs) -> Iterator[PausedRun]:
    ws = make_workspace(make_project(many_files(300)))
    run = PausedRun(ws)
    assert run.paused.wait(WAIT), "the index run never reported progress"
    yield run
    run.finish()


def call_soon(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in another thread; fail (instead of hanging) if it blocks on the run."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result(WAIT / 2)


def test_search_is_answered_while_indexing(paused: PausedRun):
    stored = set(call_soon(lambda: list(paused.ws.store.files)))
    results = call_soon(lambda: paused.ws.search("handler request value", limit=50))
    # Answered from what is stored so far (the run is held mid-way), without waiting.
    assert 0 < len(stored) < 300
    assert results and {r.path for r in results} <= stored
    report = paused.finish()
    assert report.files == 300
    assert any(r.symbol.startswith("handler_") for r in paused.ws.search("handler_150"))


def test_status_and_removal_while_indexing(paused: PausedRun):
    status = call_soon(paused.ws.status)
    assert status["root"] == str(paused.ws.root)
    assert 0 < status["files"] < 300
    # The first file is stored (files go in name order); removing it takes effect at once.
    assert call_soon(lambda: paused.ws.remove_paths(["pkg/mod_000.py"])) == 1
    found = call_soon(lambda: paused.ws.search("handler_000", limit=50))
    assert "pkg/mod_000.py" not in {r.path for r in found}
    report = paused.finish()
    # The run went on past it and does not bring it back; its next run would (the file is
    # still on disk: removals are for deletions an editor reports).
    assert report.files == 299 and "pkg/mod_000.py" not in paused.ws.store.files


def test_cancelled_run_keeps_what_it_stored(paused: PausedRun):
    paused.cancel.set()
    report = paused.finish()
    assert report.cancelled
    assert 0 < report.files < 300


def test_remove_paths_drops_results_at_once_and_next_run_persists_it(
    make_project: Callable[..., Path], make_workspace: MakeWs
):
    root = make_project(many_files(5) | {"lib/util.py": "def fold_lines(text):\n    pass\n"})
    ws = make_workspace(root)
    ws.index()
    assert any(r.symbol == "fold_lines" for r in ws.search("fold_lines"))

    (root / "lib" / "util.py").unlink()
    assert ws.remove_paths(["lib"]) == 1  # a folder: every stored file under it goes
    assert not any(r.path.startswith("lib/") for r in ws.search("fold_lines"))

    report = ws.index()
    assert report.removed_files == 0  # already gone from memory: the run must still save
    reopened = make_workspace(root)
    assert "lib/util.py" not in reopened.store.files
    assert len(reopened.store.files) == 5


def test_ready_to_search_says_when_a_search_would_not_wait(
    make_project: Callable[..., Path],
    make_workspace: MakeWs,
    monkeypatch: pytest.MonkeyPatch,
):
    from codequest.config import Config
    from codequest.encoders import HashingEncoder
    from codequest.search import searcher as search_module

    class LoadingEncoder(HashingEncoder):
        loaded = False  # as the server's shared encoder says while it loads

    root = make_project(many_files(5))
    ws = make_workspace(root)
    assert not ws.ready_to_search  # nothing loaded yet
    ws.index()
    assert not ws.ready_to_search  # an index run drops the search snapshot
    ws.searcher().snapshot()
    assert ws.ready_to_search
    # Once the store has changed and the snapshot is older than its maximum age, the next
    # search would build a new one.
    ws.remove_paths(["pkg/mod_000.py"])
    assert not ws.ready_to_search
    ws.searcher().snapshot()
    assert ws.ready_to_search
    ws.store.remove_file("pkg/mod_001.py")
    assert ws.ready_to_search  # the snapshot is younger than SNAPSHOT_MAX_AGE
    monkeypatch.setattr(search_module, "SNAPSHOT_MAX_AGE", 0.0)
    assert not ws.ready_to_search

    loading = Workspace(root, Config(model="hashing"), query_encoder=LoadingEncoder())
    try:
        loading.searcher().snapshot()
        assert not loading.ready_to_search
    finally:
        loading.close()
