"""A store in memory: chunk and file records, their terms and vectors, and what changes them.

One folder on disk holds it (:mod:`codequest.index.persist` reads and writes that folder;
:mod:`codequest.index.vectors` is the HNSW index). :class:`Store` is one of the two
implementations of :class:`~codequest.index.view.StoreView`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from codequest.errors import StoreError
from codequest.index import persist
from codequest.index.records import ChunkRecord, FileRecord
from codequest.index.vectors import (
    EXACT_SEARCH_LIMIT,
    EXPANSION_SEARCH,
    REBUILD_AFTER,
    REBUILD_MIN,
    expansion_for,
    new_index,
    numpy_dtype,
)
from codequest.index.view import LexicalTables

_S = TypeVar("_S", bound="Store")


class Store:
    """In-memory view of one store folder; mutations are saved with :meth:`save`.

    Thread safety: ``self.lock`` guards every mutation and every vector search, so the
    language server can answer queries while its indexing thread adds chunks.
    """

    def __init__(self, directory: str | os.PathLike[str], model: str, dim: int) -> None:
        self.directory = Path(directory)
        self.model = model
        self.dim = dim
        self.lock = threading.RLock()
        self.generation = 0
        self.chunks: dict[int, ChunkRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self.terms: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id -> (term ids, counts)
        self.vocab: list[str] = []
        self.vocab_ids: dict[str, int] = {}
        self.by_hash: dict[str, int] = {}  # content hash -> a chunk id holding that vector
        self.next_id = 1
        self.read_only = False
        self.extra: dict[str, Any] = {}  # format-versioned extension data (e.g. prebuilt info)
        self.version = 0  # bumped on every mutation; search snapshots compare it
        self.vectors = new_index(dim)
        self.churn = 0  # vectors removed since self.vectors was last built fresh

    # -- loading and saving (codequest.index.persist) ---------------------------------------
    @classmethod
    def load(
        cls: type[_S],
        directory: str | os.PathLike[str],
        *,
        model: str | None = None,
        recipe: int | None = None,
        read_only: bool = False,
    ) -> _S:
        """Load a store or raise :class:`StoreError` saying what is wrong with it.

        ``model`` and ``recipe`` (the document recipe, ``DOCUMENT_RECIPE``), when given, must
        match what the store was embedded with; indexes pass both, benchmarks with
        synthetic vectors neither. A store that another process replaces while it is read is
        read again (:func:`~codequest.index.persist.load_store`).
        """
        return persist.load_store(cls, directory, model=model, recipe=recipe, read_only=read_only)

    @classmethod
    def peek_generation(cls, directory: str | os.PathLike[str]) -> int | None:
        """The generation of the store on disk, or None when there is no valid one."""
        return persist.peek_generation(directory)

    def save(self) -> None:
        """Persist atomically: vectors first, then the meta that names them."""
        persist.save_store(self)

    # -- mutation ------------------------------------------------------------------------
    def _check_writable(self) -> None:
        # usearch crashes the process (SIGSEGV) when a memory-mapped view is modified.
        if self.read_only:
            raise StoreError("a read-only (prebuilt) index cannot be modified")

    def term_ids(self, counts: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.empty(len(counts), dtype=np.uint32)
        tfs = np.empty(len(counts), dtype=np.uint16)
        for i, (term, count) in enumerate(counts.items()):
            tid = self.vocab_ids.get(term)
            if tid is None:
                tid = len(self.vocab)
                self.vocab.append(term)
                self.vocab_ids[term] = tid
            ids[i] = tid
            tfs[i] = min(count, 65535)
        return ids, tfs

    def vector_for_hash(self, content_hash: str) -> np.ndarray | None:
        with self.lock:
            cid = self.by_hash.get(content_hash)
            if cid is None or cid not in self.chunks:
                return None
            vector = self.vectors.get(cid, dtype=np.float32)
            return None if vector is None else np.asarray(vector, dtype=np.float32)

    def put_file(
        self,
        file: FileRecord,
        records: list[tuple[ChunkRecord, dict[str, int]]],
        vectors: np.ndarray,
    ) -> FileRecord:
        """Replace everything stored for ``file.path`` with these chunks and vectors.

        ``records`` carry placeholder ids; real ids are assigned here. Returns the stored
        file record.
        """
        if len(records) != len(vectors):
            raise ValueError(f"{len(records)} chunks but {len(vectors)} vectors for {file.path}")
        self._check_writable()
        with self.lock:
            self._drop_file(file.path)
            ids: list[int] = []
            for (record, counts), _ in zip(records, vectors, strict=True):
                cid = self.next_id
                self.next_id += 1
                ids.append(cid)
                self.chunks[cid] = dataclasses.replace(record, id=cid)
                self.terms[cid] = self.term_ids(counts)
                self.by_hash[record.content_hash] = cid
            if ids:
                self.vectors.add(np.asarray(ids, dtype=np.uint64), np.asarray(vectors, np.float32))
            stored = FileRecord(
                file.path, file.language, file.file_hash, file.size, file.mtime_ns, tuple(ids)
            )
            self.files[file.path] = stored
            self.version += 1
            return stored

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """Record a new mtime for a file whose content did not change."""
        self._check_writable()
        with self.lock:
            old = self.files[path]
            self.files[path] = FileRecord(
                path, old.language, old.file_hash, size, mtime_ns, old.chunk_ids
            )

    def remove_file(self, path: str) -> bool:
        self._check_writable()
        with self.lock:
            removed = self._drop_file(path)
            if removed:
                self.version += 1
            return removed

    def _drop_file(self, path: str) -> bool:
        old = self.files.pop(path, None)
        if old is None:
            return False
        for cid in old.chunk_ids:
            record = self.chunks.pop(cid, None)
            self.terms.pop(cid, None)
            if record is not None and self.by_hash.get(record.content_hash) == cid:
                del self.by_hash[record.content_hash]
        if old.chunk_ids:
            removed = self.vectors.remove(np.asarray(old.chunk_ids, dtype=np.uint64))
            self.churn += len(old.chunk_ids)
            limit = max(REBUILD_MIN, REBUILD_AFTER * self.vectors.capacity)
            if int(np.sum(removed)) != len(old.chunk_ids) or self.churn >= limit:
                self._rebuild_vectors()
        return True

    def _rebuild_vectors(self) -> None:
        """Build a fresh usearch index from the live vectors (see REBUILD_AFTER)."""
        ids = np.fromiter(self.chunks, dtype=np.uint64, count=len(self.chunks))
        fresh = new_index(self.dim, self.vectors.dtype)  # the precision it was built with
        if len(ids):
            got = self.vectors.get(ids, dtype=np.float32)
            rows = [got] if isinstance(got, np.ndarray) and got.ndim == 1 else list(got)
            if any(row is None for row in rows):
                raise StoreError("index vectors were lost in memory; re-index from scratch")
            fresh.add(ids, np.vstack(rows).astype(np.float32))
        fresh.expansion_search = EXPANSION_SEARCH
        self.vectors = fresh
        self.churn = 0

    # -- queries -------------------------------------------------------------------------
    def search_vectors(self, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Nearest chunk ids and cosine similarities (exact below EXACT_SEARCH_LIMIT)."""
        with self.lock:
            size = len(self.vectors)
            if size == 0 or count <= 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            expansion = expansion_for(size)
            if self.vectors.expansion_search != expansion:
                self.vectors.expansion_search = expansion
            matches = self.vectors.search(query, min(count, size), exact=size <= EXACT_SEARCH_LIMIT)
        keys = np.asarray(matches.keys, dtype=np.int64)
        sims = 1.0 - np.asarray(matches.distances, dtype=np.float32)
        return keys, sims

    def vectors_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stored vectors of chunk ``ids`` as float32 rows, with a mask of the ids found.

        Only usearch's public API: f16 rows are fetched as stored and widened by numpy,
        which is cheaper than usearch's own cast (and exact); bf16 rows, which numpy cannot
        hold, are widened by usearch.
        """
        keys = np.ascontiguousarray(ids, dtype=np.uint64)
        if not len(keys):
            return np.zeros(0, bool), np.zeros((0, self.dim), np.float32)
        with self.lock:
            native = numpy_dtype(self.vectors.dtype)
            got = self.vectors.get(keys, dtype=native)
        rows = list(got)  # one entry per key: a row, or None
        found = np.fromiter((row is not None for row in rows), bool, count=len(keys))
        present = [row for row in rows if row is not None]
        if not present:
            return found, np.zeros((0, self.dim), np.float32)
        # One concatenate of the 1-d rows, cheaper than np.vstack, which reshapes each row.
        matrix = np.concatenate(present).reshape(len(present), self.dim)
        return found, matrix.astype(np.float32, copy=False)

    def records(self) -> tuple[int, tuple[ChunkRecord, ...]]:
        with self.lock:
            return self.version, tuple(self.chunks.values())

    def lexical_tables(self) -> LexicalTables:
        with self.lock:
            records = tuple(self.chunks.values())
            return LexicalTables(
                version=self.version,
                records=records,
                terms=tuple(self.terms[r.id] for r in records),
                vocab_ids=dict(self.vocab_ids),
                vocab_size=len(self.vocab),
            )

    def paths(self) -> Iterable[str]:
        return list(self.files)
