"""Reporting an index run: LSP work-done progress, or log messages, plus ``indexStatus``.

When the client advertises ``window.workDoneProgress``, each run gets its own token,
created with ``window/workDoneProgress/create`` *before* anything is reported on it, then
``begin`` (cancellable), ``report`` with a percentage and "N of M files", and ``end``.
Reports are throttled to about ten a second; the first and the last are always sent.
Cancelling from the client sets the run's ``cancel`` event, which the engine checks
between files. A client without progress support gets ``window/logMessage`` lines instead.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from codequest.lsp.server import CodeQuestServer

log = logging.getLogger(__name__)

REPORT_INTERVAL = 0.1  # seconds between progress reports (and indexStatus notifications)
LOG_INTERVAL = 5.0  # seconds between log lines when the client shows no progress


def percent(done: int, total: int) -> int:
    return 100 if total <= 0 else min(100, done * 100 // total)


class Throttle:
    """Lets a call through at most once per ``interval`` seconds (thread-safe)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = float("-inf")
        self._lock = threading.Lock()

    def ready(self, *, force: bool = False) -> bool:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last < self.interval:
                return False
            self._last = now
            return True


class IndexProgress:
    """The progress of one index run of one folder; called by the engine as ``ProgressFn``."""

    def __init__(
        self,
        ls: CodeQuestServer,
        folder_name: str,
        cancel: threading.Event,
        on_step: Callable[[int, int], None],
    ) -> None:
        self.ls = ls
        self.title = f"CodeQuest: indexing {folder_name}"
        self.folder_name = folder_name
        self.cancel = cancel
        self.on_step = on_step
        self.token: str | None = None
        self._reports = Throttle(REPORT_INTERVAL)
        self._logs = Throttle(LOG_INTERVAL)

    def begin(self) -> None:
        token = f"codequest-index-{uuid.uuid4().hex[:12]}"
        if self.ls.create_progress(token):
            self.token = token
            self.ls.progress_cancels[token] = self.cancel
            self.ls.post(
                self.ls.work_done_progress.begin,
                token,
                types.WorkDoneProgressBegin(
                    title=self.title,
                    message="finding files",
                    percentage=0,
                    cancellable=True,
                ),
            )
        else:
            self._logs.ready(force=True)
            self.ls.log(f"{self.title}: finding files")

    def __call__(self, done: int, total: int, message: str) -> None:
        self.on_step(done, total)
        last = done in (0, total)
        if self.token is not None:
            if self._reports.ready(force=last):
                self.ls.post(
                    self.ls.work_done_progress.report,
                    self.token,
                    types.WorkDoneProgressReport(message=message, percentage=percent(done, total)),
                )
        elif self._logs.ready(force=done == 0):
            self.ls.log(f"{self.title}: {message} ({percent(done, total)}%)")

    def end(self, message: str) -> None:
        if self.token is None:
            self.ls.log(f"CodeQuest: {self.folder_name}: {message}")
            return
        token = self.token
        self.ls.post(
            self.ls.work_done_progress.end, token, types.WorkDoneProgressEnd(message=message)
        )
        self.ls.progress_cancels.pop(token, None)
