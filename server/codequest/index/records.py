"""The rows a store keeps: one per chunk, one per file."""

from __future__ import annotations

from dataclasses import dataclass

from codequest.types import DefinedName


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A stored chunk: what results are made of (the text itself is not kept)."""

    id: int
    path: str
    language: str
    kind: str  # a codequest.types.ChunkKind value
    symbol: str
    start_line: int
    end_line: int
    content_hash: str
    preview: str
    # Length of the end line in UTF-8 bytes, UTF-16 units and code points, so an editor's
    # range for the chunk needs no file read at query time; None in format-1 stores.
    end_units: tuple[int, int, int] | None = None
    # The definitions whose own line is in the chunk (``Chunk.defines``); empty in stores
    # before format 3.
    defines: tuple[DefinedName, ...] = ()


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A stored file: what it looked like when indexed, and its chunks' ids."""

    path: str
    language: str
    file_hash: str
    size: int
    mtime_ns: int
    chunk_ids: tuple[int, ...]
