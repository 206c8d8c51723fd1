"""Staying current: ``textDocument/didSave`` and ``workspace/didChangeWatchedFiles``.

When the client can register capabilities dynamically, the server asks it to watch
``**/*`` after ``initialized``. A change or a new file queues its folder for an index
run after a quiet period (:data:`DEBOUNCE` seconds, restarted by every further event in
that folder, so a burst of saves or a ``git checkout`` costs one run). The run is the
normal incremental one: unchanged files cost a ``stat``, only changed chunks are embedded.
A deleted file (or folder) leaves the results at once: it is dropped from the in-memory
index right away, and the next run persists that.

Events the index does not care about are dropped: paths inside the index's own cache
folder, inside the folders discovery always skips (``.git``, ``node_modules``, ...), and
files in no language we index (except ``.gitignore``/``.codequestignore``, which change
what is indexed).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from concurrent import futures
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls import uris

from codequest.discovery import DEFAULT_IGNORED_DIRS, IGNORE_FILE_NAMES
from codequest.discovery.languages import detect_language

if TYPE_CHECKING:
    from codequest.lsp.indexing import FolderIndex
    from codequest.lsp.server import CodeQuestServer

log = logging.getLogger(__name__)

# Seconds of quiet before a changed folder is re-indexed. Short: it is part of every edit's
# time to searchable, and VS Code's client already holds file events until 250 ms pass
# without one, so a checkout arrives as one notification; this only joins what arrives
# within a moment (a burst of didSave from ``:wa``). A burst that spans longer costs a
# second run, which is incremental.
DEBOUNCE = 0.1
WATCH_GLOB = "**/*"
SETTLE_TIMEOUT = 5.0  # longest a search waits for a pending removal


class Watcher:
    """Turns file events into removals (at once) and debounced index runs."""

    def __init__(self, ls: CodeQuestServer) -> None:
        self.ls = ls
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._removals: list[futures.Future[None]] = []
        self._removals_lock = threading.Lock()
        # Removals get a thread of their own. Searches wait for them (settle), and searches
        # run in the request pool: with every pool thread busy in a search that waits for a
        # removal queued behind them in the same pool, each waited the full SETTLE_TIMEOUT
        # (seen as 5 s stalls under bursts of concurrent searches).
        self._removal_pool = futures.ThreadPoolExecutor(1, thread_name_prefix="codequest-remove")
        self.registration_id: str | None = None

    async def register(self) -> None:
        """Ask the client to watch every file, if it can register watchers dynamically."""
        if not self.ls.client_supports("workspace.did_change_watched_files.dynamic_registration"):
            return
        registration_id = f"codequest-watch-{uuid.uuid4().hex[:8]}"
        options = types.DidChangeWatchedFilesRegistrationOptions(
            watchers=[types.FileSystemWatcher(glob_pattern=WATCH_GLOB)]
        )
        try:
            await self.ls.client_register_capability_async(
                types.RegistrationParams(
                    registrations=[
                        types.Registration(
                            id=registration_id,
                            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                            register_options=options,
                        )
                    ]
                )
            )
        except Exception as err:  # noqa: BLE001 - saves still keep the index current
            self.ls.log(
                f"CodeQuest: cannot register file watchers: {err}", types.MessageType.Warning
            )
            return
        self.registration_id = registration_id

    # -- events (on the event loop) ------------------------------------------------------
    def changed(self, uri: str, kind: types.FileChangeType) -> None:
        path = uris.to_fs_path(uri)
        if path is None:
            return
        folder = self.ls.folder_of(Path(path))
        if folder is None:
            return
        rel = folder.relpath(Path(path))
        if not rel or not self._relevant(folder, rel, deleted=kind == types.FileChangeType.Deleted):
            return
        if kind == types.FileChangeType.Deleted:
            self._remove_now(folder, rel)
        self._schedule(folder.uri)

    def _relevant(self, folder: FolderIndex, rel: str, *, deleted: bool) -> bool:
        parts = rel.split("/")
        if any(part in DEFAULT_IGNORED_DIRS for part in parts[:-1]):
            return False
        ws = folder.workspace
        if ws is not None and folder.relpath(ws.cache_dir) in {
            "/".join(parts[: i + 1]) for i in range(len(parts))
        }:
            return False  # the index writing its own files
        if deleted:
            return True  # may be a folder: its files go
        return detect_language(rel) is not None or parts[-1] in IGNORE_FILE_NAMES

    def _remove_now(self, folder: FolderIndex, rel: str) -> None:
        ws = folder.workspace
        if ws is None:
            return

        def remove() -> None:
            if ws.remove_paths([rel]):
                self.ls.log(f"CodeQuest: {folder.name}: removed {rel} from the index")

        # The store's lock may be held for a moment by a save: not on the event loop. A
        # search that arrives after the deletion waits for it (see settle()).
        future = self._removal_pool.submit(remove)
        with self._removals_lock:
            self._removals = [f for f in self._removals if not f.done()] + [future]

    def settle(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait until deletions reported so far have left the index (called by searches)."""
        with self._removals_lock:
            pending = list(self._removals)
        if pending:
            futures.wait(pending, timeout)

    def _schedule(self, folder_uri: str) -> None:
        loop = self.ls.loop
        if loop is None:
            return
        timer = self._timers.pop(folder_uri, None)
        if timer is not None:
            timer.cancel()
        self._timers[folder_uri] = loop.call_later(DEBOUNCE, self._fire, folder_uri)

    def _fire(self, folder_uri: str) -> None:
        self._timers.pop(folder_uri, None)
        if folder_uri in self.ls.folders:
            self.ls.indexer.request([folder_uri])

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


def register(server: CodeQuestServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(
        ls: CodeQuestServer, params: types.DidChangeWatchedFilesParams
    ) -> None:
        for event in params.changes:
            ls.watcher.changed(event.uri, event.type)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: CodeQuestServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.watcher.changed(params.text_document.uri, types.FileChangeType.Changed)
