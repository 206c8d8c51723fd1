"""Reading LSP frames from stdin on the event loop (codequest.lsp.transport)."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from pygls.io_ import StdinAsyncReader

from codequest.lsp.transport import PipeReader, open_reader, watchable


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_a_pipe_is_read_on_the_loop_frame_by_frame():
    read_fd, write_fd = os.pipe()
    out_read, out_write = os.pipe()
    messages = [b'{"id":1}', '{"q":"é"}'.encode(), b"{}" * 40_000]  # one larger than a pipe

    async def main() -> list[bytes]:
        with open(read_fd, "rb", buffering=0) as stdin, open(out_write, "wb") as stdout:
            reader = await open_reader(stdin, stdout, None)
            assert isinstance(reader, PipeReader)
            loop = asyncio.get_running_loop()

            def feed() -> None:
                with open(write_fd, "wb") as w:
                    for body in messages:
                        w.write(frame(body))

            writer = loop.run_in_executor(None, feed)
            got = []
            for _ in messages:
                assert (await reader.readline()).startswith(b"Content-Length: ")
                assert await reader.readline() == b"\r\n"
                got.append(await reader.readexactly(len(messages[len(got)])))
            await writer
            assert await reader.readline() == b""  # end of input
            assert await reader.readexactly(5) == b""  # no exception at the end either
            return got

    try:
        assert asyncio.run(main()) == messages
    finally:
        os.close(out_read)


def test_a_truncated_body_reads_as_the_end_of_input():
    read_fd, write_fd = os.pipe()
    out_read, out_write = os.pipe()

    async def main() -> bytes:
        with open(read_fd, "rb", buffering=0) as stdin, open(out_write, "wb") as stdout:
            reader = await open_reader(stdin, stdout, None)
            with open(write_fd, "wb") as w:
                w.write(b"Content-Length: 50\r\n\r\n{")
            await reader.readline()
            await reader.readline()
            return await reader.readexactly(50)

    try:
        assert asyncio.run(main()) == b""
    finally:
        os.close(out_read)


def test_files_and_shared_descriptors_keep_the_thread_reader(tmp_path: Path):
    regular = tmp_path / "input"
    regular.write_bytes(frame(b"{}"))
    out_read, out_write = os.pipe()
    left, right = socket.socketpair()
    try:
        with open(regular, "rb") as stdin, open(out_write, "wb") as stdout:
            assert not watchable(stdin, stdout)  # a regular file: asyncio cannot watch it
            assert isinstance(asyncio.run(open_reader(stdin, stdout, None)), StdinAsyncReader)
        # One socket as both stdin and stdout (a shared open file): making it
        # non-blocking for reads would break stdout's blocking writes.
        sock_file = left.makefile("rwb", buffering=0)
        assert not watchable(sock_file, sock_file)
        # Separate sockets, as libuv-based editors (VS Code, Neovim) spawn servers with.
        other_left, other_right = socket.socketpair()
        with right.makefile("rb", buffering=0) as r, other_left.makefile("wb") as w:
            assert watchable(r, w)
        other_left.close()
        other_right.close()
    finally:
        left.close()
        right.close()
        os.close(out_read)
