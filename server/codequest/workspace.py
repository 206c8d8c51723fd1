"""The facade the CLI, the language server and the benchmarks use: one indexed folder."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codequest.config import Config
from codequest.encoders import (
    DOCUMENT_RECIPE,
    BasicQueryEncoder,
    DocumentEncoder,
    HashingEncoder,
    QueryEncoder,
    declared,
    document_encoder_identity,
    load_document_encoder,
    load_query_encoder,
)
from codequest.encoders.models import resolve_model
from codequest.errors import EncoderError, StoreError
from codequest.index.indexer import ProgressFn, index_workspace
from codequest.index.persist import META_FILE, writer_lock
from codequest.index.store import Store
from codequest.index.view import StoreView
from codequest.search import Searcher
from codequest.types import IndexReport, SearchFilters, SearchResult

if TYPE_CHECKING:
    from codequest.index.embedding import Embedder, RunEncoder

log = logging.getLogger(__name__)


def default_cache_dir(root: Path, config: Config) -> Path:
    if config.cache_dir:
        path = Path(os.path.expanduser(config.cache_dir))
        return path if path.is_absolute() else root / path
    return root / ".codequest"


def model_dim(config: Config) -> int | None:
    """The embedding size from the model's config files, without loading the weights."""
    if config.model == "hashing":
        return HashingEncoder().dim
    try:
        folder = Path(resolve_model(config.model).path)
        modules = json.loads((folder / "modules.json").read_text())
        for module in reversed(modules):
            if module.get("type", "").endswith("Dense"):
                dense = json.loads((folder / module["path"] / "config.json").read_text())
                return int(dense["out_features"])
        return int(json.loads((folder / "config.json").read_text())["hidden_size"])
    except (OSError, ValueError, KeyError, TypeError, EncoderError, RuntimeError):
        return None


@contextlib.contextmanager
def kept_if_failed(store: Store) -> Iterator[None]:
    """A run that fails halfway (an embedding worker killed, a disk error) saves what it had
    written: every file in the store is complete, and the next run goes on from there."""
    version = store.version
    try:
        yield
    except BaseException:
        if store.version != version and not store.read_only:
            try:
                store.save()
            except Exception:  # noqa: BLE001 - the first error is the one to report
                log.debug("could not save the index after a failed run", exc_info=True)
        raise


class Workspace:
    """Indexes and searches one folder. Thread-safe for one indexer plus many searchers."""

    # Why a configured prebuilt index is not used (one line; prebuilt.LayeredWorkspace).
    fallback_reason = ""

    def __init__(
        self,
        root: str | os.PathLike[str],
        config: Config | None = None,
        *,
        document_encoder: DocumentEncoder | None = None,
        query_encoder: BasicQueryEncoder | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise NotADirectoryError(f"{root} is not a folder")
        self.config = config or Config()
        self.cache_dir = default_cache_dir(self.root, self.config)
        self._document_encoder = document_encoder
        # Where index runs embed (codequest.index.embedding); None: here, with the model.
        self.embedder = embedder
        self._query_encoder = declared(query_encoder) if query_encoder is not None else None
        self.model_identity = (
            document_encoder.identity
            if document_encoder
            else document_encoder_identity(self.config)
        )
        self._store: Store | None = None
        self._searcher: Searcher | None = None
        # Lock order: _index_lock, then _lock. _lock guards the short state changes above
        # (which store, which searcher) and is never held while indexing or loading a
        # model, so searches keep being answered while an index run is in progress. The
        # store has its own lock for its data; the encoders have their own load locks.
        self._lock = threading.RLock()
        self._index_lock = threading.Lock()  # one index run at a time in this process
        self._document_lock = threading.Lock()
        self._query_lock = threading.Lock()
        self.problem = ""  # why the stored index was discarded, if it was
        self._unsaved = False  # remove_paths changed the store; the next index() saves it

    @property
    def uses_prebuilt(self) -> bool:
        """Whether searches read a prebuilt base (prebuilt.LayeredWorkspace)."""
        return False

    # -- store ---------------------------------------------------------------------------
    @property
    def store(self) -> StoreView:
        """What searches read: the local store (a prebuilt workspace layers its own)."""
        return self.local_store()

    def local_store(self) -> Store:
        """The writable store in :attr:`cache_dir`, loaded (or created) on first use."""
        with self._lock:
            if self._store is None:
                self._store = self._load_or_create()
            return self._store

    def has_index(self) -> bool:
        return (self.cache_dir / META_FILE).is_file()

    def _load_or_create(self) -> Store:
        try:
            return Store.load(self.cache_dir, model=self.model_identity, recipe=DOCUMENT_RECIPE)
        except StoreError as err:
            if self.has_index():
                self.problem = f"{err.reason}; rebuilding the index"
                log.info("%s", self.problem)  # callers report it (IndexReport, status)
            return Store(self.cache_dir, self.model_identity, self._dim())

    def _dim(self) -> int:
        if self._document_encoder is not None:
            return self._document_encoder.dim
        dim = model_dim(self.config)
        if dim is None:
            dim = self.document_encoder().dim
        return dim

    def document_encoder(self) -> DocumentEncoder:
        with self._document_lock:
            if self._document_encoder is None:
                self._document_encoder = load_document_encoder(self.config)
                loaded = self._document_encoder.identity
                if loaded != self.model_identity:
                    raise EncoderError(
                        f"model {self.config.model!r} loaded as {loaded!r}, "
                        f"expected {self.model_identity!r}"
                    )
            return self._document_encoder

    @contextlib.contextmanager
    def document_encoders(
        self, dim: int, cancel: threading.Event | None
    ) -> Iterator[Callable[[], DocumentEncoder]]:
        """What one index run gets its document encoder from, when it needs one: the
        workspace's own (loaded once, kept), or one the embedder opens for this run and
        closes after it (a worker process ends with the run)."""
        embedder = self.embedder
        if embedder is None or self._document_encoder is not None:
            yield self.document_encoder
            return
        opened: list[RunEncoder] = []

        def for_this_run() -> DocumentEncoder:
            if not opened:
                opened.append(embedder.open_run(self.config, self.model_identity, dim, cancel))
            return opened[0]

        try:
            yield for_this_run
        finally:
            for encoder in opened:
                encoder.close()

    def _disk_generation(self) -> int | None:
        return Store.peek_generation(self.cache_dir)

    # -- indexing ------------------------------------------------------------------------
    def index(
        self,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> IndexReport:
        """Bring the index up to date. Another process indexing the same folder is waited for.

        Searches from other threads are answered throughout, from what is stored so far:
        only the store's own lock is taken, briefly, per batch of files.
        """
        with self._index_lock, writer_lock(self.cache_dir):
            with self._lock:
                store = self.local_store()
                if store.read_only:
                    raise StoreError("this workspace uses a read-only prebuilt index")
                if self.has_index() and store.generation != self._disk_generation():
                    # Someone else wrote the store since we loaded it: start from their copy.
                    self._store = None
                    self._searcher = None
                    store = self.local_store()
            unsaved, self._unsaved = self._unsaved, False
            generation = store.generation
            with self.document_encoders(store.dim, cancel) as encoders, kept_if_failed(store):
                report = index_workspace(
                    self.root,
                    self.config,
                    store,
                    encoders,
                    progress=progress,
                    cancel=cancel,
                )
            if unsaved and store.generation == generation:
                store.save()  # removals made by remove_paths, which the run found done
            with self._lock:
                # A searcher may reuse a snapshot for up to SNAPSHOT_MAX_AGE while the store
                # changes; once the run is complete, results must match what is stored.
                self._searcher = None
        if self.problem:
            from dataclasses import replace

            report = replace(report, rebuilt=True, rebuild_reason=self.problem)
            self.problem = ""
        return report

    # -- querying ------------------------------------------------------------------------
    def query_encoder(self) -> QueryEncoder:
        encoder = self._query_encoder
        if encoder is not None:
            return encoder
        teacher = self.store.model
        with self._query_lock:
            if self._query_encoder is None:
                self._query_encoder = load_query_encoder(self.config, teacher)
            return self._query_encoder

    def _loaded_store(self) -> StoreView | None:
        """The store, if it has been loaded (never loads it)."""
        return self._store

    @property
    def ready_to_search(self) -> bool:
        """Whether a search would start at once: no store or model to load or wait for
        (a shared encoder that loads in the background says so with ``loaded``), and no
        search snapshot to build, as after an index run or every second during one."""
        encoder = self._query_encoder
        if encoder is None or not encoder.loaded:
            return False
        store, searcher = self._loaded_store(), self._searcher
        return (
            store is not None
            and searcher is not None
            and searcher.store is store
            and searcher.snapshot_ready
        )

    def searcher(self) -> Searcher:
        store = self.store
        searcher = self._searcher
        if searcher is not None and searcher.store is store:
            return searcher
        encoder = self.query_encoder()  # may load a model: not under _lock
        with self._lock:
            if self._searcher is None or self._searcher.store is not self.store:
                self._searcher = Searcher(
                    self.store, encoder, max_per_file=self.config.max_chunks_per_file
                )
            return self._searcher

    def remove_paths(self, paths: list[str]) -> int:
        """Drop these files (POSIX paths relative to the root, or folders) from the index now.

        For deletions the editor reports: results from them disappear at once, without
        waiting for the next index run (which persists the removal). Returns how many
        files were dropped.
        """
        store = self.store
        if store.read_only:
            return 0
        removed = 0
        for path in paths:
            prefix = path.rstrip("/") + "/"
            for stored in [path, *(p for p in store.paths() if p.startswith(prefix))]:
                if store.remove_file(stored):
                    removed += 1
        if removed:
            self._unsaved = True
            with self._lock:
                self._searcher = None  # its snapshot would show the removed files a moment
        return removed

    def search(
        self,
        query: str,
        *,
        limit: int | None = None,
        filters: SearchFilters | None = None,
        explain: bool = False,
    ) -> list[SearchResult]:
        if not isinstance(query, str) or not query.strip():
            return []
        return self.searcher().search(
            query,
            limit=limit if limit is not None else self.config.max_results,
            filters=filters,
            explain=explain,
            hybrid=self.config.hybrid,
        )

    def status(self) -> dict[str, Any]:
        """What is indexed, and the query encoder that answers (loaded if it is not yet)."""
        store = self.store
        try:
            encoder_name = str(self.query_encoder().name)
        except EncoderError as err:
            encoder_name = f"unavailable: {err}"
        return {
            "root": str(self.root),
            "cacheDir": str(self.cache_dir),
            "model": store.model,
            "queryEncoder": encoder_name,
            "files": len(store.files),
            "chunks": len(store.chunks),
            "generation": store.generation,
            "indexed": self.has_index(),
            "problem": self.problem,
        }

    def close(self) -> None:
        with self._lock:
            self._searcher = None
