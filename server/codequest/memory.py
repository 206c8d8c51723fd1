"""Giving freed memory back to the operating system.

Loading a store, building a search snapshot and embedding a batch allocate far more than
they keep: the msgpack payload of the store, the snapshot's intermediate lists, ONNX
Runtime's buffers. Python and ONNX Runtime free them, but glibc's allocator keeps the
freed pages mapped for later use, so the resident size of a language server that lives
all day stays at its peak. ``malloc_trim`` hands those pages back (docs/lsp.md has the
figures). It walks the heap, a few milliseconds, so it runs after such steps, never per
search.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from collections.abc import Callable

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # glibc; musl has none
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def release_free_memory() -> bool:
    """Return the allocator's free pages to the OS; False where that is not possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def resident_mb() -> float | None:
    """This process's resident set size in MB (Linux ``/proc``), or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None
