"""Reading LSP messages from stdin without a thread hop per line.

pygls' stdio reader (``pygls.io_.StdinAsyncReader``) runs every ``readline`` and the body
``read`` in the server's thread pool: three to four thread hand-offs per message, each of
which wakes a worker, takes the GIL and wakes the event loop again. On a 2-core machine
that costs more than the search itself. When stdin is a pipe, a socket or a terminal,
asyncio can watch it directly (``loop.connect_read_pipe``), so a message is read on the
loop with no thread at all. Anything else (a regular file, Windows consoles, stdin and
stdout being one open file) keeps pygls' reader.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from typing import Any, BinaryIO

from pygls.io_ import StdinAsyncReader

log = logging.getLogger(__name__)

# A message larger than this is read in pieces by readexactly anyway; the limit only bounds
# one header line, which is short.
LINE_LIMIT = 1 << 20


class PipeReader:
    """The ``AsyncReader`` interface of ``pygls.io_.run_async`` over an asyncio stream."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream

    async def readline(self) -> bytes:
        try:
            return await self._stream.readline()
        except ValueError:  # an over-long header line: not LSP; end like at end of input
            log.error("a header line longer than %d bytes arrived on stdin; stopping", LINE_LIMIT)
            return b""

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._stream.readexactly(n)
        except asyncio.IncompleteReadError:  # the client went away mid-message
            return b""


def watchable(stdin: BinaryIO, stdout: BinaryIO) -> bool:
    """True when asyncio can read ``stdin`` without touching how ``stdout`` is written.

    ``connect_read_pipe`` makes the descriptor non-blocking. That flag belongs to the open
    file, so when stdin and stdout are one open file (a terminal, one socket for both),
    stdout's blocking writes would start failing: those keep pygls' reader.
    """
    if os.name != "posix":
        return False
    try:
        in_fd, out_fd = stdin.fileno(), stdout.fileno()
        mode = os.fstat(in_fd).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            return False
        return not os.path.sameopenfile(in_fd, out_fd)
    except (OSError, ValueError, AttributeError):
        return False


async def open_reader(stdin: BinaryIO, stdout: BinaryIO, thread_pool: Any) -> Any:
    """An asyncio reader of ``stdin`` when possible, else pygls' thread-pool reader."""
    if watchable(stdin, stdout):
        loop = asyncio.get_running_loop()
        stream = asyncio.StreamReader(limit=LINE_LIMIT, loop=loop)
        try:
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), stdin)
        except (OSError, ValueError, NotImplementedError) as err:
            log.info("reading stdin through threads: %s", err)
        else:
            return PipeReader(stream)
    return StdinAsyncReader(stdin, thread_pool)
