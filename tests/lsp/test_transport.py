"""Reading LSP frames on the stdin thread, and what it answers itself (lsp/transport.py)."""

from __future__ import annotations

import asyncio
import fcntl
import io
import os
import threading
from collections.abc import Callable, Iterator

import pytest

from codequest.lsp.transport import (
    HEADER_LIMIT,
    FrameReader,
    StdinDispatcher,
    blocking_reader,
)


def frame(body: bytes, *, extra: bytes = b"") -> bytes:
    return b"Content-Length: %d\r\n" % len(body) + extra + b"\r\n" + body


def reads(*chunks: bytes) -> Callable[[], bytes]:
    """A ``read()`` that returns these chunks one by one, then the end of input."""
    pending: Iterator[bytes] = iter(chunks)
    return lambda: next(pending, b"")


def bodies(reader: FrameReader) -> list[bytes]:
    out = []
    while (body := reader.next_body()) is not None:
        out.append(body)
    return out


MESSAGES = [b'{"id":1}', '{"q":"é🎉"}'.encode(), b"{}" * 40_000]  # one larger than a read


def test_frames_are_found_however_the_bytes_arrive():
    stream = b"".join(frame(m) for m in MESSAGES)
    assert bodies(FrameReader(reads(stream))) == MESSAGES  # all in one read
    one_by_one = [stream[i : i + 1] for i in range(len(stream))]
    assert bodies(FrameReader(reads(*one_by_one))) == MESSAGES
    # A read that ends inside the header separator, and one that ends inside a body.
    cut = stream.index(b"\r\n\r\n") + 2
    assert bodies(FrameReader(reads(stream[:cut], stream[cut : cut + 5], stream[cut + 5 :]))) == (
        MESSAGES
    )


def test_other_headers_any_case_and_header_blocks_without_a_length():
    typed = frame(b"{}", extra=b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n")
    lower = b"content-length: 4\r\n\r\n[1,]"
    stream = b"X-Junk: 1\r\n\r\n" + typed + lower
    assert bodies(FrameReader(reads(stream))) == [b"{}", b"[1,]"]


def test_messages_already_read_can_be_looked_at_without_taking_them():
    stream = frame(b"one") + b"X: 1\r\n\r\n" + frame(b"two") + frame(b"three")[:-2]
    reader = FrameReader(reads(stream, b"ee"))
    assert reader.buffered_bodies() == []  # nothing read yet
    assert reader.next_body() == b"one"
    assert reader.buffered_bodies() == [b"two"]  # "three" is not complete yet
    assert reader.next_body() == b"two"
    assert reader.next_body() == b"three"
    assert reader.buffered_bodies() == []
    assert reader.next_body() is None


def test_a_truncated_body_or_endless_headers_end_the_input():
    assert bodies(FrameReader(reads(frame(b"{}"), b"Content-Length: 50\r\n\r\n{"))) == [b"{}"]
    endless = b"X: " + b"y" * (HEADER_LIMIT + 10)
    assert bodies(FrameReader(reads(endless, frame(b"{}")))) == []


def test_blocking_reader_of_a_pipe_and_of_a_file_object():
    read_fd, write_fd = os.pipe()
    flags = fcntl.fcntl(read_fd, fcntl.F_GETFL)
    fcntl.fcntl(read_fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)  # as a parent may leave it
    with open(read_fd, "rb", buffering=0) as stdin:
        reader = FrameReader(blocking_reader(stdin))

        def feed() -> None:
            for message in MESSAGES:
                os.write(write_fd, frame(message))
            os.close(write_fd)

        timer = threading.Timer(0.05, feed)  # the reader is waiting before anything is sent
        timer.start()
        assert bodies(reader) == MESSAGES
        timer.join()
    # No descriptor (an in-memory stream): read1 of the object itself.
    memory = io.BufferedReader(io.BytesIO(b"".join(frame(m) for m in MESSAGES)))  # type: ignore[arg-type]
    assert bodies(FrameReader(blocking_reader(memory))) == MESSAGES


class Recorder:
    """A dispatcher's callbacks, recording which message went where."""

    def __init__(self, answer: Callable[[bytes], bool]) -> None:
        self.answer = answer
        self.delivered: list[bytes] = []
        self.asked: list[bytes] = []
        self.queued_behind: list[list[bytes]] = []
        self.ended = threading.Event()

    def answer_inline(self, body: bytes, queued: Callable[[], list[bytes]]) -> bool:
        self.asked.append(body)
        self.queued_behind.append(queued())
        return self.answer(body)

    def run(
        self, read: Callable[[], bytes], deliver: Callable[[bytes], None] | None = None
    ) -> None:
        async def main() -> None:
            loop = asyncio.get_running_loop()
            done = loop.create_future()

            def end() -> None:
                self.ended.set()
                done.set_result(None)

            dispatcher = StdinDispatcher(
                FrameReader(read),
                loop,
                deliver=deliver or self.delivered.append,
                answer_inline=self.answer_inline,
                on_end=end,
            )
            dispatcher.start()
            await asyncio.wait_for(done, 10)
            dispatcher.thread.join(5)
            assert not dispatcher.loop_is_behind

        asyncio.run(main())


def is_search(body: bytes) -> bool:
    return body.startswith(b"search")


def test_searches_are_answered_inline_only_once_the_loop_has_caught_up():
    recorder = Recorder(is_search)
    started, released, caught_up = threading.Event(), threading.Event(), threading.Event()

    def deliver(body: bytes) -> None:  # on the loop
        recorder.delivered.append(body)
        if body == b"change":
            started.set()
            assert released.wait(5)  # the loop is busy with it while more arrives
        if body == b"search 2":  # set once this delivery has been counted
            asyncio.get_running_loop().call_soon(caught_up.set)

    steps = iter(
        [
            lambda: frame(b"change"),
            lambda: started.wait(5) and frame(b"search 1"),
            lambda: frame(b"search 2"),
            lambda: (released.set(), caught_up.wait(5)) and frame(b"search 3"),
            lambda: frame(b"other"),
        ]
    )
    recorder.run(lambda: next(steps, lambda: b"")(), deliver)
    # Searches 1 and 2 came while the change was still being handled: they went to the
    # loop behind it, in order. Search 3 came after the loop had caught up.
    assert recorder.delivered == [b"change", b"search 1", b"search 2", b"other"]
    assert recorder.asked == [b"change", b"search 3", b"other"]
    assert recorder.queued_behind == [[], [], []]  # each arrived in a read of its own
    assert recorder.ended.is_set()


def test_a_failing_inline_answer_leaves_the_message_to_the_loop(caplog: pytest.LogCaptureFixture):
    def broken(body: bytes) -> bool:
        raise RuntimeError("bug")

    recorder = Recorder(broken)
    recorder.run(reads(frame(b"search") + frame(b"next")))
    assert recorder.delivered == [b"search", b"next"]
    assert recorder.queued_behind[0] == [b"next"]  # what came in the same read, behind it
    assert "answering a message on the stdin thread failed" in caplog.text
