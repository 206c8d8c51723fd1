"""Chunks from row ranges: definitions as they are, line windows for the rest."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from codequest.text import content_hash
from codequest.types import Chunk, DefinedName

# A chunk's text is truncated to this many characters (its line range is not).
MAX_CHUNK_CHARS = 20_000


def windows(start: int, end: int, size: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Overlapping ranges of ``size`` lines that cover ``start..end`` (inclusive)."""
    step = size - overlap
    for first in range(start, end + 1, step):
        last = min(first + size - 1, end)
        yield first, last
        if last == end:
            return


def is_blank(line: str) -> bool:
    return not line or line.isspace()


def gaps(length: int, covered: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Row ranges (0-based, inclusive) of ``0..length-1`` that no definition covers."""
    cursor = 0
    for start, end in sorted(covered):
        if start > cursor:
            yield cursor, start - 1
        cursor = max(cursor, end + 1)
    if cursor < length:
        yield cursor, length - 1


def trim_blank_edges(
    lines: list[str], start: int, end: int, min_lines: int
) -> tuple[int, int] | None:
    """``start..end`` without blank edge lines; None with fewer than ``min_lines`` of code."""
    content = [row for row in range(start, end + 1) if not is_blank(lines[row])]
    if not content or len(content) < min_lines:
        return None
    return content[0], content[-1]


class Emitter:
    """Builds chunks from 0-based row ranges of one file."""

    def __init__(
        self, path: str, language: str, source: str, lines: list[str], size: int, overlap: int
    ):
        self.path, self.language, self.source, self.lines = path, language, source, lines
        self.size, self.overlap = size, overlap
        # Characters before each line, newlines excluded: row r starts at offsets[r] + r.
        self.offsets = list(itertools.accumulate(map(len, lines), initial=0))
        self.chunks: dict[tuple[int, int, str, str], Chunk] = {}

    def text(self, start: int, end: int) -> str:
        """Lines ``start..end`` joined with newlines, cut at ``MAX_CHUNK_CHARS``.

        A slice of the source is exactly those lines joined; bounding the slice makes a
        range of huge lines cost O(cap), not O(file).
        """
        first = self.offsets[start] + start
        last = self.offsets[end + 1] + end
        return self.source[first : min(last, first + MAX_CHUNK_CHARS)]

    def emit(
        self, start: int, end: int, kind: str, symbol: str, defines: tuple[DefinedName, ...] = ()
    ) -> None:
        text = self.text(start, end)
        if is_blank(text):
            return
        key = (start + 1, end + 1, kind, symbol)
        self.chunks[key] = Chunk(
            path=self.path,
            language=self.language,
            kind=kind,
            symbol=symbol,
            start_line=start + 1,
            end_line=end + 1,
            text=text,
            content_hash=content_hash(self.language, kind, symbol, text),
            defines=defines,
        )

    def emit_windows(self, start: int, end: int, kind: str, symbol: str) -> None:
        for first, last in windows(start, end, self.size, self.overlap):
            self.emit(first, last, kind, symbol)

    def sorted(self) -> list[Chunk]:
        return [self.chunks[key] for key in sorted(self.chunks)]
