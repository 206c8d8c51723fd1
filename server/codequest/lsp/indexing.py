"""Workspace folders and the one background thread that indexes them.

Each workspace folder is a :class:`FolderIndex`: its :class:`~codequest.workspace.Workspace`
and its current :class:`IndexStatus`. The :class:`IndexWorker` thread opens every folder
first (loading a persisted index, so searches work at once), then indexes the folders one
after the other; later requests (a saved file, ``codequest.reindex``, a changed setting)
queue a folder again. Runs are incremental: unchanged files cost one ``stat``, and only
changed chunks are embedded. Searches run in other threads and read the store while it
is being filled.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_from_bytes

from lsprotocol import types

from codequest.lsp.progress import IndexProgress, percent
from codequest.memory import release_free_memory
from codequest.workspace import Workspace

if TYPE_CHECKING:
    from codequest.lsp.server import CodeQuestServer
    from codequest.lsp.symbols import NameTable
    from codequest.types import IndexReport

log = logging.getLogger(__name__)

IDLE, INDEXING, READY, ERROR = "idle", "indexing", "ready", "error"


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """What ``codequest/indexStatus`` and the ``index`` field of a search reply carry."""

    state: str = IDLE
    indexed_files: int = 0
    total_files: int = 0
    message: str = ""

    @property
    def percent(self) -> int:
        if self.state == READY:
            return 100
        if self.state == INDEXING:
            return percent(self.indexed_files, self.total_files) if self.total_files else 0
        return 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "state": self.state,
            "indexedFiles": self.indexed_files,
            "totalFiles": self.total_files,
            "percent": self.percent,
        }
        if self.message:
            out["message"] = self.message
        return out


def combine(statuses: list[IndexStatus]) -> IndexStatus:
    """One status for several folders: indexing wins, then error, then idle, then ready."""
    if not statuses:
        return IndexStatus()
    if len(statuses) == 1:
        return statuses[0]
    states = {s.state for s in statuses}
    state = next(s for s in (INDEXING, ERROR, IDLE, READY) if s in states)
    messages = "; ".join(s.message for s in statuses if s.message)
    return IndexStatus(
        state,
        sum(s.indexed_files for s in statuses),
        sum(s.total_files for s in statuses),
        messages,
    )


class FolderIndex:
    """One workspace folder: where it is, its engine workspace, and how its index is doing."""

    def __init__(self, uri: str, path: Path, name: str) -> None:
        self.uri = uri
        self.path = path  # as the client names it (URIs we send are built from this)
        self.name = name
        self.workspace: Workspace | None = None
        # Set once the stored index has been loaded (or failed to); searches wait for it.
        self.opened = threading.Event()
        self.open_lock = threading.Lock()
        self.status = IndexStatus()
        self.problem = ""
        # Settings changed: the next run opens a new Workspace; searches use the old one until.
        self.outdated = False
        self.name_table: NameTable | None = None  # workspace/symbol's cache

    def contains(self, path: Path) -> bool:
        return self.relpath(path) is not None

    def relpath(self, path: Path) -> str | None:
        """``path`` as a POSIX path relative to this folder, or None when outside it."""
        for root in (self.path, self.workspace.root if self.workspace else None):
            if root is None:
                continue
            try:
                rel = path.relative_to(root)
            except ValueError:
                continue
            return PurePosixPath(*rel.parts).as_posix() if rel.parts else ""
        return None

    def file_path(self, relpath: str) -> Path:
        return file_path(self.path, relpath)

    def file_uri(self, relpath: str) -> str:
        return file_uri(self.path, relpath)

    def set_status(self, status: IndexStatus) -> None:
        self.status = status

    def wait_opened(self, timeout: float) -> Workspace | None:
        """The workspace, once the stored index is loaded (a moment at start-up)."""
        self.opened.wait(timeout)
        return self.workspace


def file_path(root: Path, relpath: str) -> Path:
    """The absolute path of a stored (POSIX, relative) path."""
    return root.joinpath(*PurePosixPath(relpath).parts)


@functools.lru_cache(maxsize=64)
def _uri_prefix(root: Path) -> str | None:
    """A folder's file URI without a trailing slash, to which quoted relative paths are
    appended; None where pathlib must build each URI (Windows drives and UNC shares)."""
    if os.name != "posix":
        return None
    uri = root.as_uri()
    return uri[:-1] if uri.endswith("/") else uri  # "/" is "file:///"


@functools.lru_cache(maxsize=8192)
def file_uri(root: Path, relpath: str) -> str:
    """The file URI of a stored (POSIX, relative) path, as ``Path.as_uri`` writes it.

    Every search result needs one, and pathlib parses, joins and quotes the whole path each
    time, a visible share of a round trip on cold caches. On POSIX the folder's URI is
    computed once and the relative path is percent-encoded onto it, byte for byte as
    ``as_uri`` does (``quote_from_bytes`` of the file system encoding, "/" kept).
    """
    prefix = _uri_prefix(root)
    if prefix is None or not relpath:
        return file_path(root, relpath).as_uri()
    return prefix + "/" + quote_from_bytes(os.fsencode(relpath))


def warm_search(ws: Workspace) -> None:
    """Get a folder ready for fast queries, in the calling (indexing or loading) thread.

    The search snapshot (symbol table, BM25 postings) is otherwise built by the first query
    after every index run: about a second at 100k chunks. Then the long-lived heap (the
    store's records, the snapshot) is frozen out of the garbage collector's scans: a full
    collection over it stalled every thread for 0.1-0.2 s, mid-search, at 100k chunks.
    """
    try:
        ws.searcher().snapshot(current=True)
    except Exception:  # noqa: BLE001 - the first search will build it (and report why)
        log.exception("could not prepare the search snapshot of %s", ws.root)
    gc.collect(1)  # the young generations only: the frozen heap is not scanned again
    gc.freeze()
    # What loading, indexing and the snapshot build freed goes back to the OS: the server
    # would otherwise stay at the peak of its last index run all day.
    release_free_memory()


class IndexWorker:
    """The server's indexing thread: folders are indexed one at a time, in request order."""

    def __init__(self, ls: CodeQuestServer) -> None:
        self.ls = ls
        self._cond = threading.Condition()
        self._queue: dict[str, None] = {}  # folder URIs, in request order, no duplicates
        self._current: tuple[str, threading.Event] | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.runs = 0  # completed runs, for tests and status

    # -- control (any thread) ------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="codequest-indexer", daemon=True
            )
            self._thread.start()

    def request(self, uris: list[str]) -> None:
        """Queue these folders for an index run (again, if one is already running)."""
        with self._cond:
            for uri in uris:
                self._queue[uri] = None
            self._cond.notify()

    def cancel(self, uri: str | None = None) -> None:
        """Stop the current run (of this folder, when given) and forget queued ones."""
        with self._cond:
            if uri is None:
                self._queue.clear()
            else:
                self._queue.pop(uri, None)
            if self._current is not None and uri in (None, self._current[0]):
                self._current[1].set()

    def busy(self) -> bool:
        with self._cond:
            return self._current is not None or bool(self._queue)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel, let the current run save what it has, and end the thread."""
        with self._cond:
            self._stopping = True
        self.cancel()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # -- the thread ----------------------------------------------------------------------
    def _loop(self) -> None:
        # Load every folder's stored index first: searches work before any run starts.
        for folder in list(self.ls.folders.values()):
            if self._stopping:
                return
            try:
                self.ls.open_folder(folder)
            except Exception:  # noqa: BLE001 - open_folder reports its own errors
                log.exception("opening %s failed", folder.path)
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                uri = next(iter(self._queue))
                del self._queue[uri]
                cancel = threading.Event()
                self._current = (uri, cancel)
            try:
                queued = self.ls.folders.get(uri)
                if queued is not None:
                    self._index(queued, cancel)
            except Exception:  # noqa: BLE001 - the thread must survive any bug in one run
                log.exception("indexing %s failed", uri)
            finally:
                with self._cond:
                    self._current = None
                    self.runs += 1

    def _index(self, folder: FolderIndex, cancel: threading.Event) -> None:
        ws = self.ls.open_folder(folder)
        if ws is None:
            return
        started = time.monotonic()

        def on_step(done: int, total: int) -> None:
            folder.set_status(IndexStatus(INDEXING, done, total))
            self.ls.publish_status()

        progress = IndexProgress(self.ls, folder.name, cancel, on_step)
        folder.set_status(IndexStatus(INDEXING, 0, 0, "finding files"))
        self.ls.publish_status(force=True)
        progress.begin()
        try:
            report = ws.index(progress=progress, cancel=cancel)
        except Exception as err:  # noqa: BLE001 - shown to the user, the server goes on
            log.exception("indexing %s failed", folder.path)
            message = f"indexing {folder.name} failed: {err}"
            folder.problem = message
            folder.set_status(IndexStatus(ERROR, 0, 0, message))
            self.ls.publish_status(force=True)
            progress.end(f"failed: {err}")
            self.ls.show(f"CodeQuest: {message}", types.MessageType.Error)
            return
        self._finish(folder, progress, report, time.monotonic() - started)

    def _finish(
        self, folder: FolderIndex, progress: IndexProgress, report: IndexReport, seconds: float
    ) -> None:
        started = time.perf_counter()
        if folder.workspace is not None:
            warm_search(folder.workspace)
        warmed = time.perf_counter() - started
        done = folder.status.indexed_files
        total = folder.status.total_files
        if report.cancelled:
            message = f"indexing cancelled after {done} of {total} files"
            folder.set_status(IndexStatus(IDLE, report.files, report.files, message))
            progress.end(f"cancelled after {done} of {total} files")
        else:
            message = report.limit_hit
            folder.set_status(IndexStatus(READY, report.files, report.files, message))
            progress.end(
                f"{report.files} files, {report.chunks} chunks "
                f"({report.embedded} embedded) in {seconds:.1f} s"
            )
        if report.rebuilt:
            folder.problem = report.rebuild_reason
            self.ls.log(f"CodeQuest: {folder.name}: {report.rebuild_reason}")
        if report.limit_hit:
            self.ls.show(f"CodeQuest: {folder.name}: {report.limit_hit}", types.MessageType.Warning)
        self.ls.publish_status(force=True)
        self.ls.log(
            f"CodeQuest: indexed {folder.name}: {report.files} files, {report.chunks} chunks, "
            f"{report.embedded} embedded, {report.reused} reused, "
            f"{report.removed_files} removed in {seconds + warmed:.2f} s"
            + (" (cancelled)" if report.cancelled else "")
            + _steps(report, warmed)
        )


def _steps(report: IndexReport, warmed: float) -> str:
    """Where a run's time went, for the log: its longer steps, in order."""
    steps = [(name.replace("_", " "), t) for name, t in report.timings.items() if t >= 0.01]
    steps.append(("search ready", warmed))
    return " (" + ", ".join(f"{name} {t:.2f} s" for name, t in steps) + ")"
