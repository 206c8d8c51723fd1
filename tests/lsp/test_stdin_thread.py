"""Which thread answers ``codequest/search``: the real server, in process, over pipes.

The stdin thread answers a search itself once the folder and the query encoder are
loaded; before that, the search goes through pygls to a pool thread, which may wait.
The subprocess end-to-end tests check the replies; this checks where they were made.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codequest.lsp import search as search_feature
from codequest.lsp.encoder import SharedQueryEncoder
from codequest.lsp.server import create_server
from codequest.lsp.transport import FrameReader, blocking_reader

WAIT = 30.0


class PipeClient:
    """Just enough of an LSP client: framed writes, and reads that keep notifications."""

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self._write_fd = write_fd
        self._input = open(read_fd, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self._frames = FrameReader(blocking_reader(self._input))
        self.notifications: list[dict[str, Any]] = []
        self._next_id = 0

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        os.write(self._write_fd, b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def request(self, method: str, params: Any) -> Any:
        self._next_id += 1
        rid = self._next_id
        self.send({"id": rid, "method": method, "params": params})
        while True:
            message = self.read()
            if message.get("id") == rid and "method" not in message:
                assert "error" not in message, message
                return message["result"]
            if "method" in message and "id" in message:  # a request from the server
                self.send({"id": message["id"], "result": None})
            elif "method" in message:
                self.notifications.append(message)

    def reply_to(self, rid: str | int) -> dict[str, Any]:
        """Wait for the reply to request ``rid`` (sent with :meth:`send`)."""
        while True:
            message = self.read()
            if message.get("id") == rid and "method" not in message:
                return message
            if "method" in message and "id" in message:
                self.send({"id": message["id"], "result": None})
            elif "method" in message:
                self.notifications.append(message)

    def read(self) -> dict[str, Any]:
        body = self._frames.next_body()
        assert body is not None, "the server closed its output"
        message: dict[str, Any] = json.loads(body)
        return message

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if any(
                n["method"] == "codequest/indexStatus" and n["params"]["state"] == "ready"
                for n in self.notifications
            ):
                return
            message = self.read()
            if "method" in message and "id" in message:
                self.send({"id": message["id"], "result": None})
            elif "method" in message:
                self.notifications.append(message)
        raise AssertionError("indexing did not finish")

    def close(self) -> None:
        os.close(self._write_fd)
        self._input.close()


@pytest.fixture
def searches_by_thread(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the thread that ran each search."""
    names: list[str] = []
    real = search_feature.run_search

    def spy(ls: Any, request: Any) -> Any:
        names.append(threading.current_thread().name)
        return real(ls, request)

    monkeypatch.setattr(search_feature, "run_search", spy)
    return names


def test_searches_move_to_the_stdin_thread_once_nothing_can_block_them(
    make_project: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    searches_by_thread: list[str],
):
    project = make_project()
    # Hold the query encoder's loading until the first search has been sent.
    release_encoder = threading.Event()
    real_load = SharedQueryEncoder.load

    def slow_load(self: SharedQueryEncoder) -> None:
        release_encoder.wait(WAIT)
        real_load(self)

    monkeypatch.setattr(SharedQueryEncoder, "load", slow_load)

    to_server, from_client = os.pipe()
    to_client, from_server = os.pipe()
    server = create_server()
    with open(to_server, "rb", buffering=0) as stdin, open(from_server, "wb") as stdout:
        serving = threading.Thread(target=server.start_io, args=(stdin, stdout), daemon=True)
        serving.start()
        client = PipeClient(from_client, to_client)
        uri = project.as_uri()
        client.request(
            "initialize",
            {
                "processId": None,
                "rootUri": uri,
                "capabilities": {},
                "initializationOptions": {"model": "hashing", "cacheDir": str(tmp_path / "c")},
            },
        )
        client.send({"method": "initialized", "params": {}})

        # Sent while the encoder is still loading: pygls runs it in a pool thread, which
        # waits for the encoder; the stdin thread stays free.
        client.send(
            {"id": "early", "method": "codequest/search", "params": {"query": "parse config"}}
        )
        release_encoder.set()
        assert "result" in client.reply_to("early")
        client.wait_ready()
        assert searches_by_thread == [searches_by_thread[0]]
        assert searches_by_thread[0] != "codequest-stdin"

        result = client.request("codequest/search", {"query": "parse the config file"})
        assert result["results"], result
        assert result["index"]["state"] == "ready"
        assert searches_by_thread[-1] == "codequest-stdin"
        # A search whose cancel has arrived behind it is not run: it is answered
        # RequestCancelled. Both go in one write, so the server reads them together.
        searches = len(searches_by_thread)
        cancelled = json.dumps(
            {"jsonrpc": "2.0", "id": 99, "method": "codequest/search", "params": {"query": "x"}}
        ).encode()
        cancel = json.dumps(
            {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 99}}
        ).encode()
        os.write(
            client._write_fd,
            b"".join(b"Content-Length: %d\r\n\r\n" % len(b) + b for b in (cancelled, cancel)),
        )
        assert client.reply_to(99)["error"]["code"] == -32800
        assert len(searches_by_thread) == searches
        # A bad request is still answered by pygls, with the same error as ever.
        client.send({"id": "bad", "method": "codequest/search", "params": {"query": 3}})
        reply = client.reply_to("bad")
        assert reply["error"]["code"] == -32602
        assert "query must be a string" in reply["error"]["message"]

        client.request("shutdown", None)
        client.send({"method": "exit", "params": None})
        serving.join(WAIT)
        assert not serving.is_alive()
        client.close()
    assert searches_by_thread.count("codequest-stdin") == 1


def test_late_cancels_and_bad_params_do_not_reach_the_log_as_errors():
    import logging

    from codequest.lsp.server import _ExpectedNotAnError

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("pygls", logging.WARNING, __file__, 1, msg, ("7",), None)

    quiet = _ExpectedNotAnError()
    assert not quiet.filter(record('Cancel notification for unknown message id "%s"'))
    assert not quiet.filter(record("Unable to deserialize message %s"))
    assert quiet.filter(record("Failed to handle request %s"))


def test_the_server_exits_when_its_input_ends_without_shutdown(
    make_project: Callable[..., Path], tmp_path: Path
):
    """An editor that crashes closes the pipe: the server must not linger (exit code 1,
    as for ``exit`` without ``shutdown``)."""
    import subprocess
    import sys

    project = make_project()
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "processId": None,
                "rootUri": project.as_uri(),
                "capabilities": {},
                "initializationOptions": {"model": "hashing", "cacheDir": str(tmp_path / "c")},
            },
        }
    ).encode()
    server = subprocess.Popen(
        [sys.executable, "-m", "codequest", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        server.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        server.stdin.flush()
        reply = FrameReader(blocking_reader(server.stdout)).next_body()
        assert reply is not None and json.loads(reply)["id"] == 1
        initialized = b'{"jsonrpc":"2.0","method":"initialized","params":{}}'
        server.stdin.write(b"Content-Length: %d\r\n\r\n" % len(initialized) + initialized)
        server.stdin.flush()  # indexing starts; the input ends while it runs
        server.stdin.close()
        assert server.wait(WAIT) == 1
    finally:
        if server.poll() is None:
            server.kill()
        server.stdout.close()
