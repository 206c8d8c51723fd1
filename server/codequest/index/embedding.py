"""Where an index run's documents are embedded: in this process without torch, or in a worker.

A :class:`Workspace` without an :class:`Embedder` embeds in its own process with the
configured document encoder (the CLI does: it exits after the run anyway). A long-lived
process (the language server) gives its workspaces a :class:`LeanEmbedder`, which keeps
torch out of it:

* **Small runs** (an edit, a handful of files: up to :data:`SMALL_RUN` chunks to embed)
  are embedded here by the resident document encoder, the teacher's ONNX export under ONNX
  Runtime (:mod:`codequest.encoders.onnx_document`). It is loaded at the first edit (a
  fraction of a second) and released again after :data:`IDLE_RELEASE` seconds without one,
  so the server's steady footprint does not include it.
* **Large runs** (the first index, a branch switch) start an embedding worker
  (:mod:`codequest.encoders.worker`): torch, bf16 or a GPU, in a child process that exits
  when the run ends, and its memory with it. Until the worker has loaded its model, the
  run goes on embedding here, so the first seconds are not lost.

Both paths embed ``encoders.base.document_text`` of each chunk (the indexer makes the
texts), and the ONNX export computes what the torch teacher computes, so the store holds
vectors from either without telling them apart (docs/indexing.md has the cosines and the
NDCG of mixed stores). The store itself stays in this process, its only writer: the worker
only turns texts into vectors, so a worker that crashes or is killed takes nothing with
it but the batch it was embedding.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from codequest.config import Config
from codequest.encoders import (
    DocumentEncoder,
    load_resident_document_encoder,
    resident_document_encoder_ready,
)
from codequest.encoders.worker import EmbeddingWorker, prepare_models
from codequest.errors import EmbeddingCancelled, EncoderError
from codequest.memory import release_free_memory

log = logging.getLogger(__name__)

# A run that embeds more chunks than this is a bulk run: it starts a worker. The resident
# ONNX encoder embeds about 40-50 chunks a second on one core, about what the worker takes
# to start (5-6 s), so smaller runs are done here before a worker could have begun.
SMALL_RUN = 256
# Seconds after its last use that the resident document encoder is released.
IDLE_RELEASE = 120.0

__all__ = ["SMALL_RUN", "Embedder", "LeanEmbedder", "RunEncoder"]


class RunEncoder(DocumentEncoder, Protocol):
    """The document encoder of one index run; closed when the run ends."""

    def close(self) -> None: ...


class Embedder(Protocol):
    """Gives each index run of a workspace its document encoder."""

    def open_run(
        self, config: Config, identity: str, dim: int, cancel: threading.Event | None
    ) -> RunEncoder: ...


class LeanEmbedder:
    """Small runs in this process without torch, bulk runs in a worker (see the module)."""

    def __init__(self, *, small_run: int | None = None, idle_release: float | None = None) -> None:
        self.small_run = SMALL_RUN if small_run is None else small_run
        self.idle_release = IDLE_RELEASE if idle_release is None else idle_release
        self._lock = threading.Lock()
        self._resident: DocumentEncoder | None = None
        self._resident_model: str | None = None  # the model setting it was loaded for
        self._problem = ""  # why the resident encoder cannot be had (then: workers only)
        self._users = 0
        self._timer: threading.Timer | None = None
        self._runs: set[RoutedEncoder] = set()
        self._closed = False

    # -- the resident encoder ------------------------------------------------------------
    def resident(self, config: Config) -> DocumentEncoder | None:
        """The in-process document encoder, loaded (and exported, in a child) if need be;
        None when it cannot be had, and then workers embed everything."""
        with self._lock:
            if self._resident_model == config.model and (self._resident or self._problem):
                return self._resident
            self._drop_resident()
            self._resident_model = config.model
            self._problem = ""
            try:
                encoder = load_resident_document_encoder(config)
                if encoder is None:
                    prepare_models(config)  # the ONNX export, once, with torch in a child
                    encoder = load_resident_document_encoder(config)
                if encoder is None:
                    raise EncoderError("the teacher's ONNX export is missing after preparing it")
            except Exception as err:  # noqa: BLE001 - workers still embed; said once
                self._problem = f"{err}"
                log.warning("edits are embedded by a worker process: %s", err)
                return None
            self._resident = encoder
            return encoder

    def prepare(self, config: Config) -> None:
        """Export the resident encoder now if it must be (in a child process), so that the
        first edit only loads it. For a background thread at start-up."""
        if resident_document_encoder_ready(config):
            return
        try:
            prepare_models(config)
        except EncoderError as err:
            log.warning("cannot prepare the document encoder: %s", err)

    def _drop_resident(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._resident is not None:
            self._resident = None
            release_free_memory()

    def _schedule_release(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            if self._users or self._resident is None or self._closed:
                self._timer = None
                return
            timer = threading.Timer(self.idle_release, self._release_if_idle)
            timer.name = "codequest-embedder-release"
            timer.daemon = True
            self._timer = timer
            timer.start()

    def _release_if_idle(self) -> None:
        with self._lock:
            if self._users == 0:
                self._drop_resident()

    # -- runs ------------------------------------------------------------------------------
    def open_run(
        self, config: Config, identity: str, dim: int, cancel: threading.Event | None
    ) -> RoutedEncoder:
        with self._lock:
            if self._closed:
                raise EncoderError("the server is shutting down")
            self._users += 1
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            run = RoutedEncoder(self, config, identity, dim, cancel)
            self._runs.add(run)
            return run

    def _run_closed(self, run: RoutedEncoder) -> None:
        with self._lock:
            self._runs.discard(run)
            self._users -= 1
        self._schedule_release()

    def close(self) -> None:
        """Kill every worker and release the resident encoder (server shutdown)."""
        with self._lock:
            self._closed = True
            runs = list(self._runs)
            self._drop_resident()
        for run in runs:
            run.kill()

    def worker_pids(self) -> list[int]:
        """The embedding workers running now (for status and tests)."""
        with self._lock:
            return [run.worker.pid for run in self._runs if run.worker is not None]


class RoutedEncoder:
    """One run's document encoder: the resident encoder for a small run, a worker once the
    run has more than ``small_run`` chunks to embed (the resident encoder fills in until
    the worker is ready)."""

    device = "routed"

    def __init__(
        self,
        embedder: LeanEmbedder,
        config: Config,
        identity: str,
        dim: int,
        cancel: threading.Event | None,
    ) -> None:
        self.embedder = embedder
        self.config = config
        self.identity = identity
        self.dim = dim
        self.cancel = cancel
        self.worker: EmbeddingWorker | None = None
        self.embedded_here = 0
        self.embedded_by_worker = 0
        self._lock = threading.Lock()
        self._closed = False

    def encode_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        resident = self.embedder.resident(self.config)
        worker = self._route(len(texts), resident is not None)
        if worker is None:
            assert resident is not None
            vectors = resident.encode_documents(texts, on_batch=on_batch)
            self.embedded_here += len(texts)
            return vectors
        vectors = worker.encode_documents(texts, on_batch=on_batch)
        self.embedded_by_worker += len(texts)
        return vectors

    def _route(self, count: int, resident: bool) -> EmbeddingWorker | None:
        """The worker that embeds the next ``count`` texts, or None to embed them here.

        A run turns bulk once it has more than ``small_run`` chunks to embed; its worker
        takes over once it has loaded. A run that is being cancelled starts no worker: what
        it still has pending is embedded here, as it was before the worker existed.
        """
        cancelled = self.cancel is not None and self.cancel.is_set()
        bulk = self.embedded_here + count > self.embedder.small_run
        if self.worker is None and (not resident or (bulk and not cancelled)):
            self._start_worker()
        if self.worker is None or (not self.worker.ready() and resident):
            return None  # a worker that died raises in ready(): the run fails, saved
        return self.worker

    def _start_worker(self) -> None:
        with self._lock:
            if self._closed:
                raise EmbeddingCancelled()
            self.worker = EmbeddingWorker(
                self.config, identity=self.identity, dim=self.dim, cancel=self.cancel
            )
        log.info("bulk run: embedding worker %d started", self.worker.pid)

    def kill(self) -> None:
        with self._lock:
            self._closed = True
            worker = self.worker
        if worker is not None:
            worker.kill()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            worker = self.worker
        if worker is not None:
            worker.close()
        self.embedder._run_closed(self)
