"""Reading LSP messages from stdin on a thread of its own, which answers searches itself.

pygls reads stdin on its event loop and runs a threaded request (``codequest/search``) in
its thread pool: the loop wakes for the message, then a pool thread wakes for the search.
On a small machine every wake-up is a scheduling round (on a VM, often a halted vCPU
being woken), and the search is only a few milliseconds. Here one thread,
``codequest-stdin``, reads stdin with blocking reads:

- A ``codequest/search`` request is answered on that thread, when nothing read before
  it is still waiting for the loop and the search cannot block (see
  :func:`codequest.lsp.inline.answer_inline`): one wake-up per search instead of two.
- Every other message goes to the loop, in order, exactly as pygls' own reader would
  hand it over. A search that arrives while earlier messages are still queued for the
  loop goes the same way, so it sees the file changes and settings sent before it.

The loop itself is never blocked by a search. While a search runs inline, the next
messages wait in the pipe; they are read as soon as it is answered.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import select
import threading
from collections.abc import Callable
from typing import BinaryIO

log = logging.getLogger(__name__)

# A header block longer than this is not LSP: the reader stops, as at the end of input.
HEADER_LIMIT = 1 << 16
READ_SIZE = 1 << 16
_CONTENT_LENGTH = re.compile(rb"content-length:[ \t]*(\d+)[ \t]*", re.IGNORECASE)


class FrameReader:
    """``Content-Length`` framed message bodies from a blocking byte source.

    ``read`` returns up to ``READ_SIZE`` bytes, or ``b""`` at the end of input. A header
    block without ``Content-Length`` is skipped, as pygls' reader skips it.
    """

    def __init__(self, read: Callable[[], bytes]) -> None:
        self._read = read
        self._buffer = bytearray()
        self._start = 0  # where the unread part of the buffer begins

    def _fill(self) -> bool:
        data = self._read()
        if not data:
            return False
        if self._start:
            del self._buffer[: self._start]
            self._start = 0
        self._buffer += data
        return True

    def buffered_bodies(self) -> list[bytes]:
        """The complete messages already read but not yet returned, without consuming them."""
        found: list[bytes] = []
        position = self._start
        while True:
            end = self._buffer.find(b"\r\n\r\n", position)
            if end < 0:
                return found
            length = _content_length(bytes(self._buffer[position:end]))
            position = end + 4
            if length is None:
                continue
            if len(self._buffer) - position < length:
                return found
            found.append(bytes(self._buffer[position : position + length]))
            position += length

    def next_body(self) -> bytes | None:
        """The next message body; None at the end of input or on a malformed stream."""
        while True:
            end = self._buffer.find(b"\r\n\r\n", self._start)
            while end < 0:
                if len(self._buffer) - self._start > HEADER_LIMIT:
                    log.error("no end of LSP headers within %d bytes; stopping", HEADER_LIMIT)
                    return None
                if not self._fill():
                    return None
                end = self._buffer.find(b"\r\n\r\n", self._start)
            header = bytes(self._buffer[self._start : end])
            self._start = end + 4
            length = _content_length(header)
            if length is None:
                log.warning("LSP headers without Content-Length skipped: %r", header[:200])
                continue
            while len(self._buffer) - self._start < length:
                if not self._fill():
                    return None  # the client went away mid-message
            body = bytes(self._buffer[self._start : self._start + length])
            self._start += length
            return body


def _content_length(header: bytes) -> int | None:
    """The ``Content-Length`` of a header block (without its blank line), if it has one."""
    length = None
    for line in header.split(b"\r\n"):
        match = _CONTENT_LENGTH.fullmatch(line)
        if match:
            length = int(match.group(1))
    return length


def blocking_reader(stdin: BinaryIO) -> Callable[[], bytes]:
    """A ``read()`` of up to ``READ_SIZE`` bytes of ``stdin`` that waits for data.

    Reads the descriptor itself where there is one (no second buffer in between), and
    waits with ``select`` if someone made it non-blocking (it may be shared with the
    process that started us).
    """
    try:
        fd = stdin.fileno()
    except (OSError, ValueError, AttributeError):
        read1 = getattr(stdin, "read1", None) or stdin.read
        return lambda: read1(READ_SIZE)

    def read() -> bytes:
        while True:
            try:
                return os.read(fd, READ_SIZE)
            except BlockingIOError:
                select.select([fd], [], [])
            except InterruptedError:
                continue
            except OSError as err:
                if err.errno in (errno.EBADF, errno.EPIPE, errno.ECONNRESET):
                    return b""
                raise

    return read


class StdinDispatcher:
    """The ``codequest-stdin`` thread: answers what it can, hands the rest to the loop.

    ``answer_inline(body, queued)`` returns True when it answered the message itself; it
    is only asked when every earlier message has been handled on the loop. ``queued()``
    gives the messages that have arrived behind it (so a search whose ``$/cancelRequest``
    is already there need not run). ``deliver(body)`` runs
    on the loop, in arrival order. ``on_end()`` runs on the loop once input has ended.
    """

    def __init__(
        self,
        frames: FrameReader,
        loop: asyncio.AbstractEventLoop,
        *,
        deliver: Callable[[bytes], None],
        answer_inline: Callable[[bytes, Callable[[], list[bytes]]], bool],
        on_end: Callable[[], None],
    ) -> None:
        self._frames = frames
        self._loop = loop
        self._deliver = deliver
        self._answer_inline = answer_inline
        self._on_end = on_end
        # Written by one thread each (no lock needed): queued here, delivered on the loop.
        self._queued = 0
        self._delivered = 0
        self.thread = threading.Thread(target=self._run, name="codequest-stdin", daemon=True)

    def start(self) -> None:
        self.thread.start()

    @property
    def loop_is_behind(self) -> bool:
        """Whether messages read earlier still wait for the loop."""
        return self._delivered != self._queued

    def _run(self) -> None:
        try:
            while True:
                body = self._frames.next_body()
                if body is None:
                    break
                if not self.loop_is_behind and self._answered(body):
                    continue
                self._queued += 1
                if not self._post(self._deliver_one, body):
                    return
        except Exception:  # noqa: BLE001 - the server cannot go on without its input
            log.exception("reading stdin failed; stopping")
        self._post(self._on_end)

    def _answered(self, body: bytes) -> bool:
        try:
            return self._answer_inline(body, self._frames.buffered_bodies)
        except Exception:  # noqa: BLE001 - a bug there must not stop the input: the loop
            log.exception("answering a message on the stdin thread failed")  # answers it
            return False

    def _post(self, fn: Callable[..., None], *args: object) -> bool:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop has closed: the server is exiting
            return False
        return True

    def _deliver_one(self, body: bytes) -> None:
        try:
            self._deliver(body)
        finally:
            self._delivered += 1
