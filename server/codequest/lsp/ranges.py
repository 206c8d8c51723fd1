"""LSP ranges of search results: 0-based lines, from the start of the first line to the
end of the last, measured in the position encoding the client negotiated.

Stores of format 2 record each chunk's end-line lengths, so a range needs no file read;
older stores' ranges read the file (:class:`FileLines` keeps recently used files).
"""

from __future__ import annotations

import contextlib
import enum
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from codequest.text import UTF8_BOM, line_units, split_lines, wide_codec

if TYPE_CHECKING:
    from codequest.lsp.indexing import FolderIndex
    from codequest.lsp.server import CodeQuestServer


class FileLines:
    """The lines of recently used files, re-read when a file's size or mtime changes.

    Every result's range needs the length of its last line, and a user typing a query sees
    the same files again and again: reading each file once, not once per keystroke, takes
    the disk out of the round trip. Bounded by total bytes; least recently used go first.
    """

    def __init__(
        self, max_bytes: int = 32 << 20, max_file_bytes: int = 4 << 20, recheck: float = 1.0
    ) -> None:
        self.max_bytes = max_bytes
        self.max_file_bytes = max_file_bytes
        # A file looked at less than ``recheck`` seconds ago is not stat()ed again: a search
        # shows 20 results, and a range end that lags a save by a second is harmless.
        self.recheck = recheck
        self._files: OrderedDict[
            Path, tuple[tuple[int, int], list[bytes] | list[str], int, float]
        ] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def lines(self, path: Path) -> list[bytes] | list[str] | None:
        """The file's lines (bytes, or str for UTF-16/32 files); None if unreadable."""
        now = time.monotonic()
        with self._lock:
            hit = self._files.get(path)
            if hit is not None and now - hit[3] < self.recheck:
                self._files.move_to_end(path)
                return hit[1]
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (st.st_size, st.st_mtime_ns)
        with self._lock:
            hit = self._files.get(path)
            if hit is not None and hit[0] == key:
                self._files[path] = (*hit[:3], now)
                self._files.move_to_end(path)
                return hit[1]
        if st.st_size > self.max_file_bytes:
            return None  # the caller streams it instead
        try:
            with open(path, "rb") as fh:
                data = fh.read(self.max_file_bytes + 1)
        except OSError:
            return None
        lines = split_lines(data)
        with self._lock:
            old = self._files.pop(path, None)
            if old is not None:
                self._bytes -= old[2]
            self._files[path] = (key, lines, len(data), now)
            self._bytes += len(data)
            while self._bytes > self.max_bytes and len(self._files) > 1:
                _, (_, _, size, _) = self._files.popitem(last=False)
                self._bytes -= size
        return lines


FILE_LINES = FileLines()


def line_length(path: Path, line: int, encoding: str) -> int | None:
    """Length of 0-based ``line`` of a file in ``encoding`` units; None if unreadable.

    Lines end at ``\\n`` (a trailing ``\\r`` is not counted), as the chunker counts them.
    """
    lines = FILE_LINES.lines(path)
    if lines is None:
        return _stream_line_length(path, line, encoding)
    if line >= len(lines):
        return 0  # the file is shorter now than when it was indexed
    raw = lines[line]
    if isinstance(raw, str):
        text = raw
    elif raw.isascii():  # one unit a byte in every encoding: most lines of code
        return len(raw.rstrip(b"\r"))
    else:
        text = raw.decode("utf-8", errors="replace")
    return _units(text.rstrip("\r"), encoding)


def _stream_line_length(path: Path, line: int, encoding: str) -> int | None:
    """:func:`line_length` for files too big to keep: reads up to that line only."""
    try:
        with open(path, "rb") as fh:
            wide = wide_codec(fh.read(4))
            if wide is not None:
                fh.seek(0)
                lines = fh.read().decode(wide[1], errors="replace").lstrip("\ufeff").split("\n")
                text = lines[line] if line < len(lines) else ""
                return _units(text.rstrip("\r"), encoding)
            fh.seek(0)
            for number, raw in enumerate(fh):
                if number == line:
                    if number == 0 and raw.startswith(UTF8_BOM):
                        raw = raw[len(UTF8_BOM) :]
                    text = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")
                    return _units(text, encoding)
    except OSError:
        return None
    return 0  # the file is shorter now than when it was indexed


def _units(text: str, encoding: str) -> int:
    """``text``'s length in ``encoding`` units (UTF-16 for an encoding we do not know)."""
    return line_units(text)[_UNIT_INDEX.get(encoding, 1)]


_UNIT_INDEX: dict[str, int] = {
    types.PositionEncodingKind.Utf8.value: 0,
    types.PositionEncodingKind.Utf16.value: 1,
    types.PositionEncodingKind.Utf32.value: 2,
}


def result_range(
    path: Path | None,
    start_line: int,
    end_line: int,
    encoding: str,
    end_units: tuple[int, int, int] | None = None,
) -> dict[str, Any]:
    """The LSP range of 1-based inclusive lines: start of the first to end of the last.

    ``end_units``, the end line's lengths recorded at indexing, saves reading the file;
    ``path`` is read only without them (see :func:`needs_file`), and may be None then.
    """
    end = end_line - 1
    unit = _UNIT_INDEX.get(encoding)
    if end_units is not None and unit is not None:
        length: int | None = end_units[unit]
    elif path is None:
        raise ValueError("a range without recorded line lengths needs the file's path")
    else:
        length = line_length(path, end, encoding)
    end_pos = (
        {"line": end, "character": length}
        if length is not None
        else {
            "line": end_line,
            "character": 0,
        }
    )
    return {"start": {"line": start_line - 1, "character": 0}, "end": end_pos}


def needs_file(encoding: str, end_units: tuple[int, int, int] | None) -> bool:
    """Whether :func:`result_range` must read the file (an index without line lengths)."""
    return end_units is None or encoding not in _UNIT_INDEX


def folder_range(
    folder: FolderIndex,
    relpath: str,
    start_line: int,
    end_line: int,
    encoding: str,
    end_units: tuple[int, int, int] | None,
) -> dict[str, Any]:
    """:func:`result_range` of a folder's stored path; the absolute path is built only
    when the file has to be read."""
    path = folder.file_path(relpath) if needs_file(encoding, end_units) else None
    return result_range(path, start_line, end_line, encoding, end_units)


def position_encoding(ls: CodeQuestServer) -> str:
    """The negotiated position encoding as its wire value ("utf-8", "utf-16", "utf-32").

    pygls keeps it as an enum member, whose ``str()`` is "PositionEncodingKind.Utf8": that
    once made every range UTF-16 whatever the client had asked for.
    """
    encoding: Any = types.PositionEncodingKind.Utf16
    with contextlib.suppress(RuntimeError):
        encoding = ls.workspace.position_encoding or encoding
    return str(encoding.value if isinstance(encoding, enum.Enum) else encoding)
