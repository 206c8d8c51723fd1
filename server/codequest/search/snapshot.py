"""The snapshot: an immutable, query-ready view of a store, rebuilt when the store changes.

Everything a query needs that does not depend on the query is computed here once (BM25
postings, the symbol table, per-position definition flags, demotions, files, split
classes, the chunk id to position map), never per query.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from codequest.discovery import (
    is_declaration_path,
    is_example_path,
    is_legacy_path,
    is_reexport_path,
    is_test_path,
    is_vendored_or_generated,
)
from codequest.index.lexical import LexicalIndex
from codequest.index.records import ChunkRecord
from codequest.index.view import StoreView
from codequest.search.options import Demotion
from codequest.search.symbols import SymbolTable, file_key
from codequest.tokens import query_words, split_identifier
from codequest.types import DEFINITION_KINDS, ChunkKind


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An immutable view for queries, rebuilt when the store changes (never per query)."""

    version: int
    built_at: float
    ids: np.ndarray  # position -> chunk id
    records: tuple[ChunkRecord, ...]
    lexical: LexicalIndex
    vocab_ids: dict[str, int]
    symbols: SymbolTable
    is_definition: np.ndarray  # bool per position
    demoted: np.ndarray  # int8 per position: its file's Demotion flags, REEXPORT for no code
    file_of: np.ndarray  # int32 per position -> index into file_paths
    file_paths: tuple[str, ...]
    file_words: tuple[frozenset[str], ...]  # stemmed path words per file
    # The words of each file's name and of its folder's name, lower case, each whole name
    # too ("handler_stack" -> handler_stack, handler, stack): every such word in sorted
    # order, and per file (CSR: offsets into a flat array) the indexes of its words.
    path_words: tuple[str, ...]
    file_word_offsets: np.ndarray  # int64, one more than there are files
    file_word_ids: np.ndarray  # int32
    # Each file's name (``symbols.file_key``) as its hash, sorted, and the file each belongs
    # to: arrays rather than a dict of names, which took 1-2 MB at 100k chunks.
    name_hashes: np.ndarray  # int64
    name_files: np.ndarray  # int32
    # (path, class) -> first line, last line, header position, position of the last chunk
    classes: dict[tuple[str, str], tuple[int, int, int, int]]
    owners: tuple[tuple[str, str] | None, ...]  # position -> its split class, if any
    id_order: np.ndarray  # positions sorted by chunk id, for vectorised id -> position
    sorted_ids: np.ndarray  # ids[id_order]
    # chunk id -> position (-1: none), when ids are dense enough for a table: one gather
    # instead of a binary search, whose cache misses dominate at 100k ids
    position_table: np.ndarray | None

    def positions_of(
        self, chunk_ids: np.ndarray, values: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Positions of ``chunk_ids`` with their ``values``, dropping ids this snapshot lacks
        (chunks added since it was built)."""
        if not len(chunk_ids) or not len(self.ids):
            return np.zeros(0, np.int64), values[:0]
        table = self.position_table
        if table is not None:
            inside = (chunk_ids >= 0) & (chunk_ids < len(table))
            at = table[np.where(inside, chunk_ids, 0)]
            found = inside & (at >= 0)
            return at[found].astype(np.int64), values[found]
        sorted_ids = self.sorted_ids
        at = np.minimum(np.searchsorted(sorted_ids, chunk_ids), len(sorted_ids) - 1)
        found = sorted_ids[at] == chunk_ids
        return self.id_order[at[found]], values[found]

    def files_named(self, keys: frozenset[str]) -> np.ndarray:
        """The files whose name (:func:`~codequest.search.symbols.file_key`) is one of
        ``keys``, in one search of the sorted hashes for all of them."""
        wanted = np.fromiter((hash(k) for k in keys), np.int64, len(keys))
        lo = np.searchsorted(self.name_hashes, wanted, side="left")
        hi = np.searchsorted(self.name_hashes, wanted, side="right")
        hit = np.flatnonzero(hi > lo)
        if not len(hit):
            return self.name_files[:0]
        return np.concatenate([self.name_files[lo[i] : hi[i]] for i in hit.tolist()])

    @classmethod
    def build(cls, store: StoreView) -> Snapshot:
        tables = store.lexical_tables()
        version, records, vocab_ids = tables.version, tables.records, tables.vocab_ids
        ids = np.fromiter((r.id for r in records), dtype=np.int64, count=len(records))
        lexical = LexicalIndex.build(tables.terms, tables.vocab_size)
        is_definition = np.fromiter(
            (r.kind in DEFINITION_KINDS for r in records), dtype=bool, count=len(records)
        )
        file_index: dict[str, int] = {}
        file_of = np.fromiter(
            (file_index.setdefault(r.path, len(file_index)) for r in records),
            dtype=np.int32,
            count=len(records),
        )
        file_paths = tuple(file_index)
        file_words = tuple(frozenset(query_words(p.rsplit(".", 1)[0])) for p in file_paths)
        path_words, file_word_offsets, file_word_ids = file_name_words(file_paths)
        name_hashes, name_files = named_files(file_paths)
        file_demotion = np.fromiter(
            (demotion_of(p) for p in file_paths), dtype=np.int8, count=len(file_paths)
        )
        demoted = file_demotion[file_of]
        # A re-export file's own code is not a re-export: a package's __init__.py often
        # holds its main definitions (json, collections), and only its import lines and
        # other top-level statements point elsewhere.
        demoted[is_definition] &= np.int8(~Demotion.REEXPORT & 0x7F)
        classes = class_extents(records)
        owners = tuple(owner_of(r, classes) for r in records)
        id_order = np.argsort(ids, kind="stable")
        return cls(
            version,
            time.monotonic(),
            ids,
            records,
            lexical,
            vocab_ids,
            SymbolTable.build(records),
            is_definition,
            demoted,
            file_of,
            file_paths,
            file_words,
            path_words,
            file_word_offsets,
            file_word_ids,
            name_hashes,
            name_files,
            classes,
            owners,
            id_order,
            ids[id_order],
            position_table(ids),
        )


# A table costs 4 bytes per id up to the largest; ids grow with re-indexing, so past this
# much slack per chunk the binary search is used instead.
POSITION_TABLE_SLACK = 8


def position_table(ids: np.ndarray) -> np.ndarray | None:
    """chunk id -> position, or None when the ids are too sparse for a table."""
    if not len(ids) or int(ids.min()) < 0:
        return None
    top = int(ids.max())
    if top >= POSITION_TABLE_SLACK * len(ids) + 1024:
        return None
    table = np.full(top + 1, -1, np.int32)
    table[ids] = np.arange(len(ids), dtype=np.int32)
    return table


_DEMOTION_TESTS = (
    (Demotion.TEST, is_test_path),
    (Demotion.EXAMPLE, is_example_path),
    (Demotion.VENDORED, is_vendored_or_generated),
    (Demotion.LEGACY, is_legacy_path),
    (Demotion.REEXPORT, is_reexport_path),
    (Demotion.DECLARATION, is_declaration_path),
)


def demotion_of(path: str) -> Demotion:
    """How a file is demoted, from its path: every kind that applies."""
    flags = Demotion.NONE
    for flag, applies in _DEMOTION_TESTS:
        if applies(path):
            flags |= flag
    return flags


def _words_of_name(name: str) -> set[str]:
    return {name.lower(), *split_identifier(name)}


def file_name_words(
    paths: tuple[str, ...],
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """The sorted words of the files' and folders' names, and per file its words' indexes
    (offsets and a flat array)."""
    parts = [sorted(name_parts(p)) for p in paths]
    words = tuple(sorted({w for ws in parts for w in ws}))
    index = {w: i for i, w in enumerate(words)}
    offsets = np.zeros(len(paths) + 1, np.int64)
    np.cumsum([len(ws) for ws in parts], out=offsets[1:])
    flat = np.fromiter((index[w] for ws in parts for w in ws), np.int32, int(offsets[-1]))
    return words, offsets, flat


def named_files(paths: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Each file's name hashed (:func:`~codequest.search.symbols.file_key`), sorted, and the
    file of each. A hash shared by two names would lift a file named otherwise; at 64 bits
    that does not happen in practice."""
    hashes = np.fromiter((hash(file_key(p)) for p in paths), np.int64, len(paths))
    order = np.argsort(hashes, kind="stable")
    return hashes[order], order.astype(np.int32)


def name_parts(path: str) -> frozenset[str]:
    """The words of a file's name and of its folder's name: what a query's words are
    matched against for the path boost."""
    pieces = [p for p in path.split("/") if p and p != "."]
    if not pieces:
        return frozenset()
    name = pieces[-1]
    dot = name.find(".", 1)
    words = _words_of_name(name[:dot] if dot > 0 else name)
    if len(pieces) > 1 and pieces[-2] != "..":
        words |= _words_of_name(pieces[-2])
    return frozenset(w for w in words if w)


def class_extents(
    records: tuple[ChunkRecord, ...],
) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """Every class that was split into a header chunk and member chunks: its first line,
    last line, the header's position and the position of the chunk that ends it."""
    extents: dict[tuple[str, str], tuple[int, int, int, int]] = {}

    def widen(key: tuple[str, str], pos: int, r: ChunkRecord, head: int | None) -> None:
        old = extents.get(key)
        if old is None:
            if head is not None:
                extents[key] = (r.start_line, r.end_line, head, pos)
            return
        last = pos if r.end_line > old[1] else old[3]
        extents[key] = (min(old[0], r.start_line), max(old[1], r.end_line), old[2], last)

    for pos, r in enumerate(records):
        if r.kind == ChunkKind.CLASS and r.symbol:
            widen((r.path, r.symbol), pos, r, pos)
    for pos, r in enumerate(records):
        if "." in r.symbol and r.kind != ChunkKind.WINDOW:
            widen((r.path, r.symbol.rsplit(".", 1)[0]), pos, r, None)
    return extents


def owner_of(
    record: ChunkRecord, classes: Mapping[tuple[str, str], tuple[int, int, int, int]]
) -> tuple[str, str] | None:
    """The split class a method chunk (or a class header chunk) belongs to, if any."""
    if not record.symbol or record.kind == ChunkKind.WINDOW:
        return None
    if record.kind == ChunkKind.CLASS and (record.path, record.symbol) in classes:
        return (record.path, record.symbol)
    if "." in record.symbol:
        owner = (record.path, record.symbol.rsplit(".", 1)[0])
        if owner in classes:
            return owner
    return None
