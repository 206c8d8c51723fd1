"""The benchmarks' LSP client: JSON-RPC over stdio to a real ``codequest serve``.

No pygls, no asyncio, no reader thread: one process, one pipe each way, ``Content-Length``
framing, and reads with ``select`` so a hung server ends in :class:`LspError` rather than a
hang. Requests from the server (``workspace/configuration``,
``window/workDoneProgress/create``, ``client/registerCapability``) are answered inline
while waiting for a response, so the round trip measured by :meth:`LspClient.request` is
write -> server -> read, nothing more.

Two ways to ask: :meth:`LspClient.request` sends one request and waits for its answer (the
latency benchmarks); :meth:`LspClient.send` and :meth:`LspClient.collect` put many
requests in flight and gather the answers with the time each arrived (the soak's bursts).
Reads happen on the calling thread only; writes are locked, so another thread may send
notifications meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

try:
    # The client's own JSON work is inside every measured round trip; VS Code parses with
    # V8's JSON.parse, which orjson is closer to than json (benchmarks/README.md).
    import orjson

    def _dumps(message: dict[str, Any]) -> bytes:
        return orjson.dumps(message)

    def _loads(body: bytes) -> Any:
        return orjson.loads(body)

except ImportError:  # pragma: no cover - orjson is a dependency of codequest

    def _dumps(message: dict[str, Any]) -> bytes:
        return json.dumps(message, separators=(",", ":")).encode()

    def _loads(body: bytes) -> Any:
        return json.loads(body)


CAPABILITIES: dict[str, Any] = {
    "window": {"workDoneProgress": True},
    "workspace": {"configuration": True, "workspaceFolders": True},
    "general": {"positionEncodings": ["utf-16"]},
}


class LspError(RuntimeError):
    """The server failed, answered with an error, or did not answer in time."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer to a pipelined request: its result or its error, and when it arrived."""

    result: Any
    error: dict[str, Any] | None
    received: float  # time.perf_counter() when the answer was read

    def describe_error(self) -> str:
        err = self.error or {}
        return f"{err.get('code')} {err.get('message')}"


class LspClient:
    def __init__(
        self,
        command: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        stderr: IO[bytes] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr if stderr is not None else subprocess.DEVNULL,
            cwd=cwd,
            env=dict(env) if env is not None else None,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in = self.process.stdin
        self._out_fd = self.process.stdout.fileno()
        self._buffer = b""
        self._next_id = 0
        self._write_lock = threading.Lock()
        self._replies: dict[int, Reply] = {}  # pipelined answers not yet collected
        self.settings = dict(settings or {})
        self.notifications: list[dict[str, Any]] = []

    @property
    def pid(self) -> int:
        return self.process.pid

    # -- framing -------------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        body = _dumps({"jsonrpc": "2.0", **message})
        try:
            with self._write_lock:
                self._in.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
                self._in.flush()
        except (BrokenPipeError, OSError) as err:
            raise LspError(f"server closed its input (exit code {self.process.poll()})") from err

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LspError("timed out waiting for the server")
        ready, _, _ = select.select([self._out_fd], [], [], remaining)
        if not ready:
            raise LspError("timed out waiting for the server")
        data = os.read(self._out_fd, 1 << 16)
        if not data:
            raise LspError(f"server exited (exit code {self.process.wait(5)})")
        self._buffer += data

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\r\n\r\n" not in self._buffer:
            self._fill(deadline)
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = -1
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length < 0:
            raise LspError(f"message without Content-Length: {head[:200]!r}")
        self._buffer = rest
        while len(self._buffer) < length:
            self._fill(deadline)
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        message: dict[str, Any] = _loads(body)
        return message

    # -- dispatch ------------------------------------------------------------------------
    def _answer(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        result: Any = None
        if method == "workspace/configuration":
            items = (message.get("params") or {}).get("items") or [{}]
            result = [self.settings for _ in items]
        self._send({"id": message["id"], "result": result})

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:
            self._answer(message)
        elif "method" in message:
            self.notifications.append(message)
        elif isinstance(message.get("id"), int):
            self._replies[message["id"]] = Reply(
                message.get("result"), message.get("error"), time.perf_counter()
            )

    def send(self, method: str, params: Any = None) -> int:
        """Send a request without waiting; returns its id for :meth:`collect`."""
        self._next_id += 1
        self._send({"id": self._next_id, "method": method, "params": params})
        return self._next_id

    def collect(self, ids: Iterable[int], *, timeout: float = 60.0) -> dict[int, Reply]:
        """The answers to requests sent with :meth:`send`, by id, as they arrived."""
        wanted = set(ids)
        deadline = time.monotonic() + timeout
        while not wanted.issubset(self._replies):
            self._dispatch(self._read(deadline))
        return {rid: self._replies.pop(rid) for rid in wanted}

    def request(self, method: str, params: Any = None, *, timeout: float = 60.0) -> Any:
        rid = self.send(method, params)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            if message.get("id") == rid and "method" not in message:
                if "error" in message:
                    err = message["error"]
                    raise LspError(f"{method} failed: {err.get('code')} {err.get('message')}")
                return message.get("result")
            self._dispatch(message)

    def notify(self, method: str, params: Any = None) -> None:
        self._send({"method": method, "params": params})

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float
    ) -> dict[str, Any]:
        """The first notification (already received or new) that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for message in self.notifications[seen:]:
                if predicate(message):
                    return message
            seen = len(self.notifications)
            self._dispatch(self._read(deadline))

    def wait_indexed(self, *, timeout: float) -> dict[str, Any]:
        """The first ``codequest/indexStatus`` that says the index is ready; :class:`LspError`
        if it says indexing failed."""
        message = self.wait_for(_final_index_status, timeout=timeout)
        if _index_state(message) == "error":
            raise LspError(f"indexing failed: {message.get('params')}")
        return message

    # -- lifecycle -----------------------------------------------------------------------
    def initialize(
        self,
        root: Path,
        options: Mapping[str, Any],
        *,
        capabilities: Mapping[str, Any] = CAPABILITIES,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        uri = root.resolve().as_uri()
        result = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "clientInfo": {"name": "codequest-bench"},
                "rootUri": uri,
                "workspaceFolders": [{"uri": uri, "name": root.name}],
                "capabilities": dict(capabilities),
                "initializationOptions": dict(options),
            },
            timeout=timeout,
        )
        self.notify("initialized", {})
        return dict(result or {})

    def close(self, timeout: float = 10.0) -> int | None:
        """``shutdown`` + ``exit``, then terminate or kill if the server lingers."""
        if self.process.poll() is None:
            try:
                self.request("shutdown", None, timeout=timeout)
                self.notify("exit", None)
            except LspError:
                pass
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                return self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait(5)
        finally:
            with contextlib.suppress(OSError):
                self._in.close()
            if self.process.stdout is not None:
                self.process.stdout.close()


def _index_state(message: Mapping[str, Any]) -> str:
    params = message.get("params") or {}
    return str(params.get("state", "")) if isinstance(params, Mapping) else ""


def _final_index_status(message: Mapping[str, Any]) -> bool:
    return message.get("method") == "codequest/indexStatus" and _index_state(message) in (
        "ready",
        "error",
    )
