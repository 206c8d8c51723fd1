"""What search, the workspace facade and the language server read from a store.

Two classes implement :class:`StoreView`: :class:`~codequest.index.store.Store` (one
folder on disk) and :class:`~codequest.index.layered.LayeredStore` (a read-only prebuilt
base plus a local overlay). Search is written against this protocol only, so mypy checks
that both provide everything it uses. Reads that must be consistent with each other
(records with their terms and the version they belong to) come as one call, so no caller
takes a store's lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from codequest.index.records import ChunkRecord, FileRecord


@dataclass(frozen=True, slots=True)
class LexicalTables:
    """Chunk records with their lexical terms, all as of ``version``.

    ``terms[i]`` belongs to ``records[i]``: term ids (into the vocabulary that
    ``vocab_ids`` maps) and their counts.
    """

    version: int
    records: tuple[ChunkRecord, ...]
    terms: tuple[tuple[np.ndarray, np.ndarray], ...]
    vocab_ids: dict[str, int]
    vocab_size: int


class StoreView(Protocol):
    """A searchable index: chunk records, their vectors and lexical terms."""

    @property
    def model(self) -> str:
        """The document encoder's identity the vectors were made with."""
        ...

    @property
    def dim(self) -> int: ...

    @property
    def version(self) -> int:
        """Bumped on every change that search results can see."""
        ...

    @property
    def generation(self) -> int:
        """The saved generation on disk (0: never saved)."""
        ...

    @property
    def read_only(self) -> bool: ...

    @property
    def chunks(self) -> Mapping[int, ChunkRecord]: ...

    @property
    def files(self) -> Mapping[str, FileRecord]: ...

    def paths(self) -> Iterable[str]: ...

    def remove_file(self, path: str) -> bool:
        """Drop a file's chunks from results now; True when something was dropped."""
        ...

    def records(self) -> tuple[int, tuple[ChunkRecord, ...]]:
        """The version and every chunk record, read together."""
        ...

    def lexical_tables(self) -> LexicalTables:
        """Records, terms and vocabulary, read together (for a search snapshot)."""
        ...

    def search_vectors(self, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``count`` nearest chunk ids and their cosine similarities, best first."""
        ...

    def vectors_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A mask of the ``ids`` found, and their vectors as float32 rows, in order."""
        ...
