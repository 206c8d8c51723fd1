"""Build a real :class:`~codequest.store.Store` from (records, vectors), plus encoder wrappers.

The indexer fills a store file by file (``Store.put_file``), one usearch ``add`` per file.
For evaluation sets and synthetic stores we already hold every record and vector, so
:func:`build_store` fills the same fields in one pass and adds all vectors in one
multi-threaded batch. The result is indistinguishable from an indexed store: same chunk
records, same lexical term ids, same usearch settings (``store._new_index``), and it can be
saved with ``Store.save`` and loaded by a real ``codequest serve``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codequest.encoders import QueryEncoder
from codequest.index.indexer import preview_line
from codequest.index.lexical import chunk_terms
from codequest.index.records import ChunkRecord, FileRecord
from codequest.index.store import Store
from codequest.index.vectors import EXACT_SEARCH_LIMIT
from codequest.text import content_hash, line_units
from codequest.types import DefinedName


@dataclass(frozen=True, slots=True)
class Item:
    """One chunk to put in a store (what ``Chunk`` holds, minus the hash)."""

    path: str
    language: str
    kind: str
    symbol: str
    start_line: int
    end_line: int
    text: str


@dataclass(frozen=True, slots=True)
class FileMeta:
    file_hash: str = ""
    size: int = 0
    mtime_ns: int = 0


def build_store(
    directory: str | os.PathLike[str],
    model: str,
    items: Sequence[Item],
    vectors: np.ndarray,
    *,
    terms: Sequence[Mapping[str, int]] | None = None,
    term_arrays: Callable[[Store, int], tuple[np.ndarray, np.ndarray]] | None = None,
    files: Mapping[str, FileMeta] | None = None,
    on_progress: Callable[[str, int], None] | None = None,
) -> Store:
    """A store holding ``items`` with ``vectors`` (row i belongs to item i).

    Lexical terms default to the indexer's ``chunk_terms(path, symbol, text)``; ``terms``
    gives them per item, and ``term_arrays(store, i)`` can hand over ready ``term_ids``
    arrays (large synthetic stores). ``files`` gives the size/mtime/hash the indexer would
    have recorded, so a server re-indexing the folder sees every file as unchanged.
    ``on_progress(stage, n)`` is told about records and vectors as they are added.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(items):
        raise ValueError(f"{len(items)} items but vectors of shape {vectors.shape}")
    store = Store(Path(directory), model, int(vectors.shape[1]))
    per_file: dict[str, list[int]] = {}
    language: dict[str, str] = {}
    hashes: dict[tuple[str, str, str, str], str] = {}
    for i, item in enumerate(items):
        cid = i + 1
        key = (item.language, item.kind, item.symbol, item.text)
        chash = hashes.get(key)
        if chash is None:
            chash = hashes[key] = content_hash(*key)
        store.chunks[cid] = ChunkRecord(
            cid,
            item.path,
            item.language,
            item.kind,
            item.symbol,
            item.start_line,
            item.end_line,
            chash,
            preview_line(item.text),
            line_units(item.text.rsplit("\n", 1)[-1]),  # items hold whole lines
            # A whole document (a function of a BEIR set) defines the name it carries.
            (DefinedName(item.symbol, item.kind, item.start_line, item.end_line),)
            if item.symbol and item.kind != "window"
            else (),
        )
        if term_arrays is not None:
            store.terms[cid] = term_arrays(store, i)
        else:
            counts = (
                terms[i] if terms is not None else chunk_terms(item.path, item.symbol, item.text)
            )
            store.terms[cid] = store.term_ids(dict(counts))
        store.by_hash.setdefault(chash, cid)
        per_file.setdefault(item.path, []).append(cid)
        language.setdefault(item.path, item.language)
        if on_progress is not None and (i + 1) % 10_000 == 0:
            on_progress("records", 10_000)
    for path, ids in per_file.items():
        meta = (files or {}).get(path, FileMeta())
        store.files[path] = FileRecord(
            path, language[path], meta.file_hash, meta.size, meta.mtime_ns, tuple(ids)
        )
    store.next_id = len(items) + 1
    # Exact search ranks equal scores by insertion order, and a multi-threaded add inserts
    # in a different order every run. One thread inserts in key order, as the indexer does,
    # so a store small enough for exact search ranks ties the same way every time. Large
    # (HNSW) stores are built with every core.
    threads = 1 if len(items) <= EXACT_SEARCH_LIMIT else 0
    block = 20_000
    for start in range(0, len(items), block):
        stop = min(len(items), start + block)
        keys = np.arange(start + 1, stop + 1, dtype=np.uint64)
        store.vectors.add(keys, vectors[start:stop], threads=threads)
        if on_progress is not None:
            on_progress("vectors", stop - start)
    store.version += 1
    return store


# -- query encoders ------------------------------------------------------------------------
class FixedQueryEncoder:
    """Serves precomputed query vectors, so search timings exclude the encoder."""

    def __init__(self, vectors: Mapping[str, np.ndarray], teacher_identity: str) -> None:
        self._vectors = dict(vectors)
        self.teacher_identity = teacher_identity
        self.name = "precomputed"
        first = next(iter(self._vectors.values()), None)
        self.dim = int(first.shape[0]) if first is not None else 0

    def encode_query(self, text: str) -> np.ndarray:
        return self._vectors[text]


class TimedQueryEncoder:
    """Wraps a query encoder and records how long each ``encode_query`` call took."""

    def __init__(self, inner: QueryEncoder) -> None:
        self.inner = inner
        self.seconds: list[float] = []

    @property
    def teacher_identity(self) -> str:
        return self.inner.teacher_identity

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode_query(self, text: str) -> np.ndarray:
        started = time.perf_counter()
        vector = self.inner.encode_query(text)
        self.seconds.append(time.perf_counter() - started)
        return vector
