"""Reading one discovered file: bytes to text, never raising for IO problems."""

from __future__ import annotations

import os
import stat
from collections import Counter

from codequest.config import Config
from codequest.discovery.ignore import Skipped
from codequest.text import decode
from codequest.types import SourceFile

# read_source's size limit when the caller does not pass one (see its docstring).
_DEFAULT_MAX_BYTES = Config().max_file_bytes


def read_source(
    file: SourceFile, skipped: Skipped | None = None, *, max_bytes: int | None = None
) -> str | None:
    """Read and decode one discovered file; None (with a counted reason) if it cannot be.

    Never raises for IO problems: a file that disappeared counts ``vanished``, one that
    cannot be opened or read (or became a FIFO or directory) counts ``unreadable``, one
    with a NUL byte in its first 8 KiB counts ``binary``, and one that grew past the limit
    since discovery counts ``too_large``. Pass ``max_bytes=config.max_file_bytes``; without
    it the limit is the larger of the default limit and the size discovery saw.

    Text is UTF-8 with invalid bytes replaced by U+FFFD; a UTF-8 BOM is dropped, and files
    with a UTF-16/32 BOM are decoded as such. CRLF becomes LF, which keeps the number of
    lines; a lone CR is left alone, because turning it into LF would add a line.
    """
    counter = skipped if skipped is not None else Counter()
    limit = max_bytes if max_bytes is not None else max(_DEFAULT_MAX_BYTES, file.size)
    data = _read_bytes(file.abs_path, limit, counter)
    if data is None:
        return None
    text = decode(data)
    if text is None:
        counter["binary"] += 1
        return None
    return text.replace("\r\n", "\n")


def _read_bytes(path: str, limit: int, skipped: Skipped) -> bytes | None:
    """At most ``limit`` bytes of a regular file, never blocking on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, NotADirectoryError):
        skipped["vanished"] += 1
        return None
    except OSError:
        skipped["unreadable"] += 1
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            skipped["unreadable"] += 1
            return None
        if st.st_size > limit:
            skipped["too_large"] += 1
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)  # one byte more tells us it grew past the limit
    except OSError:
        skipped["unreadable"] += 1
        return None
    finally:
        os.close(fd)
    if len(data) > limit:
        skipped["too_large"] += 1
        return None
    return data
