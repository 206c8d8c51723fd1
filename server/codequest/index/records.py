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
    # The definitions whose own line is in the chunk (``Chunk.defines``; empty in stores
    # before format 3), as kept: None when the chunk is exactly one definition (its own
    # symbol, kind and lines), as many are, so that a store of 100k chunks does not hold
    # 100k more objects (12 MB). Read them through :attr:`defined_names`.
    defines: tuple[DefinedName, ...] | None = ()

    def __post_init__(self) -> None:
        d = self.defines
        if (
            d is not None
            and len(d) == 1
            and d[0].line == self.start_line
            and d[0].end == self.end_line
            and d[0].symbol == self.symbol
            and d[0].kind == self.kind
        ):
            object.__setattr__(self, "defines", None)

    @property
    def defined_names(self) -> tuple[DefinedName, ...]:
        if self.defines is None:
            return (DefinedName(self.symbol, self.kind, self.start_line, self.end_line),)
        return self.defines


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A stored file: what it looked like when indexed, and its chunks' ids."""

    path: str
    language: str
    file_hash: str
    size: int
    mtime_ns: int
    chunk_ids: tuple[int, ...]
