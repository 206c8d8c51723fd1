"""Frozen records that cross module boundaries: chunks, results, reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class StrEnum(str, Enum):
    """An enum whose members are their string values wherever a string is expected
    (``str()``, f-strings, JSON, msgpack, dict keys), like Python 3.11's ``enum.StrEnum``."""

    def __str__(self) -> str:
        return str(self.value)


class ChunkKind(StrEnum):
    """What a chunk is. Definitions come from tree-sitter; windows are the line-based
    fallback. Stores and replies carry the values (``"function"``)."""

    FUNCTION = "function"
    METHOD = "method"
    CLASS = "class"
    INTERFACE = "interface"
    STRUCT = "struct"
    ENUM = "enum"
    TRAIT = "trait"
    TYPE = "type"
    MODULE = "module"  # a Ruby module, an Elixir defmodule: a container of functions
    WINDOW = "window"


DEFINITION_KINDS = frozenset(ChunkKind) - {ChunkKind.WINDOW}
# Definitions that are types (or hold members), as opposed to functions and methods.
TYPE_KINDS = DEFINITION_KINDS - {ChunkKind.FUNCTION, ChunkKind.METHOD}


@dataclass(frozen=True, slots=True)
class DefinedName:
    """A definition whose own line (``def``, ``class``) lies in a chunk."""

    symbol: str  # qualified, as ``Chunk.symbol``
    kind: str  # a ChunkKind value
    line: int  # 1-based line of the definition itself, below its comments and decorators
    end: int  # its last line (past the chunk's end when the definition goes on)
    # Its line as a result list shows it, kept only where the chunk holds several
    # definitions (a result named after the third should not show the first one's line);
    # empty otherwise, and then the chunk's own preview is the definition's line.
    preview: str = ""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of one source file that is embedded and searched as a unit.

    Lines are 1-based and inclusive. ``path`` is POSIX-style and relative to the
    workspace root. ``symbol`` is the qualified name (``Class.method``), empty for windows.
    """

    path: str
    language: str
    kind: str  # a ChunkKind value (benchmarks build chunks from plain strings)
    symbol: str
    start_line: int
    end_line: int
    text: str
    content_hash: str
    # The definitions whose own line lies in this chunk: what a search for one of those
    # names should find first.
    defines: tuple[DefinedName, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file that discovery decided to index."""

    path: str  # relative POSIX path
    abs_path: str
    language: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class SearchFilters:
    glob: str | None = None
    languages: tuple[str, ...] = ()
    exclude_tests: bool = False


@dataclass(frozen=True, slots=True)
class SearchResult:
    path: str
    start_line: int
    end_line: int
    symbol: str
    kind: str
    language: str
    score: float
    preview: str
    # Score components (dense, lexical, name match, ...), filled when asked to explain.
    explain: dict[str, float] = field(default_factory=dict)
    # The end line's length in UTF-8 bytes, UTF-16 units and code points, when the index
    # recorded it (see ``store.ChunkRecord``); editors' ranges need it.
    end_units: tuple[int, int, int] | None = None
    # The line of the definition the result is named after, where an editor puts the
    # cursor (a chunk may open with imports, or hold several small definitions); None
    # when that is ``start_line``.
    line: int | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "line": self.line or self.start_line,
            "symbol": self.symbol,
            "kind": self.kind,
            "language": self.language,
            "score": round(self.score, 6),
        }
        if self.explain:
            out["explain"] = {k: round(v, 6) for k, v in self.explain.items()}
        return out


@dataclass(frozen=True, slots=True)
class IndexReport:
    """What one indexing run did."""

    files: int
    chunks: int
    embedded: int
    reused: int
    removed_files: int
    skipped: dict[str, int]
    seconds: float
    rebuilt: bool = False
    rebuild_reason: str = ""
    cancelled: bool = False
    limit_hit: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "files": self.files,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "reused": self.reused,
            "removed_files": self.removed_files,
            "skipped": dict(self.skipped),
            "seconds": round(self.seconds, 3),
            "rebuilt": self.rebuilt,
            "rebuild_reason": self.rebuild_reason,
            "cancelled": self.cancelled,
            "limit_hit": self.limit_hit,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
