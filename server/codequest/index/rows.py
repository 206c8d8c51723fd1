"""The rows of a meta payload: chunk and file records as msgpack lists, both ways.

A chunk row is ``[id, path, language, kind, symbol, start, end, content_hash, preview,
term_ids, term_counts, end_units, defines]``: ``term_ids``/``term_counts`` are uint32 and
uint16 bytes, ``end_units`` the end line's length in UTF-8, UTF-16 and UTF-32 units (format
2; absent in format 1) and ``defines`` ``[symbol, kind, line, end]`` rows (format 3; absent
before), with the definition's preview as a fifth item where it has one of its own (readers
of format 3 that predate it ignore it). A file row is ``[path, language, hash, size,
mtime_ns, chunk_ids]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgpack
import numpy as np

from codequest.index.records import ChunkRecord, FileRecord
from codequest.types import DefinedName

Terms = tuple[np.ndarray, np.ndarray]


def chunk_row(record: ChunkRecord, terms: Terms) -> list[Any]:
    return [
        record.id,
        record.path,
        record.language,
        record.kind,
        record.symbol,
        record.start_line,
        record.end_line,
        record.content_hash,
        record.preview,
        terms[0].astype(np.uint32).tobytes(),
        terms[1].astype(np.uint16).tobytes(),
        list(record.end_units) if record.end_units is not None else None,
        [
            [d.symbol, d.kind, d.line, d.end, d.preview]
            if d.preview
            else [d.symbol, d.kind, d.line, d.end]
            for d in record.defined_names
        ],
    ]


def file_row(file: FileRecord) -> list[Any]:
    return [
        file.path,
        file.language,
        file.file_hash,
        file.size,
        file.mtime_ns,
        list(file.chunk_ids),
    ]


def chunk_record(row: Any, shared: dict[Any, Any]) -> tuple[ChunkRecord, Terms]:
    """A chunk row read back, with one object per distinct path, language, kind and end
    lengths across the rows that share ``shared``."""
    cid, path, language, kind, symbol, start, end, chash, preview, term_ids, counts = row[:11]
    units = row[11] if len(row) > 11 and row[11] is not None else None
    # A defined name is mostly the chunk's own symbol, lines and one of a few kinds: the
    # same objects (at 100k chunks, separate ones took 12 MB).
    defines = (
        tuple(
            DefinedName(
                symbol if d[0] == symbol else str(d[0]),
                shared.setdefault(d[1], str(d[1])),
                start if d[2] == start else int(d[2]),
                end if d[3] == end else int(d[3]),
                str(d[4]) if len(d) > 4 else "",
            )
            for d in row[12]
        )
        if len(row) > 12 and row[12]
        else ()
    )
    record = ChunkRecord(
        cid,
        shared.setdefault(path, path),
        shared.setdefault(language, language),
        shared.setdefault(kind, kind),
        symbol,
        start,
        end,
        chash,
        preview,
        _shared_units(shared, units),
        defines,
    )
    return record, (
        np.frombuffer(term_ids, dtype=np.uint32),
        np.frombuffer(counts, dtype=np.uint16),
    )


def file_record(row: Any, shared: dict[Any, Any]) -> FileRecord:
    path, language, fhash, size, mtime_ns, ids = row
    path, language = shared.setdefault(path, path), shared.setdefault(language, language)
    return FileRecord(path, language, fhash, size, mtime_ns, tuple(ids))


def _shared_units(shared: dict[Any, Any], units: Any) -> tuple[int, int, int] | None:
    """A chunk's end-line lengths as a tuple shared by every chunk with the same ones."""
    if units is None:
        return None
    value = (int(units[0]), int(units[1]), int(units[2]))
    return shared.setdefault(value, value)  # type: ignore[no-any-return]


# -- decoding a payload with its chunk rows left for later -----------------------------------
def _unpacker(body: memoryview) -> msgpack.Unpacker:
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=len(body))
    unpacker.feed(body)
    return unpacker


def unpack_payload(body: memoryview) -> Any:
    """The payload map, its chunk rows skipped over and left to :class:`ChunkRows`."""
    unpacker = _unpacker(body)
    try:
        fields = unpacker.read_map_header()
    except (ValueError, msgpack.UnpackException):
        return msgpack.unpackb(body, raw=False, strict_map_key=False)  # not a map
    payload: dict[Any, Any] = {}
    for _ in range(fields):
        key = unpacker.unpack()
        offset = unpacker.tell()
        if key != "chunks":
            payload[key] = unpacker.unpack()
            continue
        try:
            count = unpacker.read_array_header()
        except (ValueError, msgpack.UnpackException):
            payload[key] = _unpacker(body[offset:]).unpack()  # not rows: let restore say so
            unpacker = _unpacker(body[offset:])
            unpacker.skip()
            continue
        for _ in range(count):
            unpacker.skip()
        payload[key] = ChunkRows(body[offset:], count)
    return payload


class ChunkRows:
    """The chunk rows of a meta file, decoded one at a time while they are iterated.

    Decoding them all at once, as one nested list, held every row's temporary objects at
    the same time, interleaved in memory with the strings the store keeps, so the freed
    rows left the heap fragmented: at 100k chunks the loaded store took about 40 MB more,
    and its peak was higher (docs/lsp.md).
    """

    def __init__(self, data: memoryview, count: int) -> None:
        self._data = data
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Any]:
        unpacker = _unpacker(self._data)
        unpacker.read_array_header()
        for _ in range(self._count):
            yield unpacker.unpack()
