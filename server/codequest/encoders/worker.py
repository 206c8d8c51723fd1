"""Torch in a process of its own: a worker that embeds documents, and one that prepares models.

A torch teacher costs the process that loads it about a gigabyte (the library, the
weights, a batch's activations), and that memory stays mapped after the last batch. The
language server lives all day, so it never imports torch: bulk index runs send their texts
to an embedding worker, ``python -m codequest.encoders.worker embed``, which loads the
teacher, embeds, and exits when the run ends; building a query encoder or the teacher's
ONNX export (once per machine) runs in ``python -m codequest.encoders.worker prepare``.

Protocol of the embedding worker, over its stdin and stdout: frames of a 4-byte big-endian
length and a msgpack map. The worker sends ``{ready, identity, dim, device}`` once the
model has loaded (or ``{error}``); then for each ``{texts}`` it receives it answers
``{rows, vectors}`` (float32 bytes, L2-normalised rows) or ``{error}``. End of input ends
the worker. It writes nothing else to that stdout: library output goes to stderr. It dies
with the process that started it (``PR_SET_PDEATHSIG`` on Linux; end of input elsewhere).

This module imports neither torch nor onnxruntime: the worker's child side loads the
teacher through :func:`codequest.encoders.load_document_encoder`.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

import msgpack
import numpy as np

from codequest.config import Config
from codequest.errors import EmbeddingCancelled, EncoderError

log = logging.getLogger(__name__)

MODULE = "codequest.encoders.worker"
_HEADER = struct.Struct(">I")
# How often a wait for the worker looks at its cancel event: the wait is a select() with
# this timeout, not a spinning loop.
CANCEL_POLL = 0.1
# How long closing waits for the worker to exit on its own before killing it.
EXIT_WAIT = 5.0
# The longest a model preparation (a student build, an ONNX export) may take.
PREPARE_TIMEOUT = 900.0


# -- framing ---------------------------------------------------------------------------------
def write_frame(out: IO[bytes], message: dict[str, Any]) -> None:
    body = msgpack.packb(message, use_bin_type=True)
    out.write(_HEADER.pack(len(body)) + body)
    out.flush()


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        data = os.read(fd, min(size, 1 << 20))
        if not data:
            return None
        chunks.append(data)
        size -= len(data)
    return b"".join(chunks)


def read_frame(fd: int) -> dict[str, Any] | None:
    """The next message on ``fd``; None at end of input."""
    head = _read_exact(fd, _HEADER.size)
    if head is None:
        return None
    body = _read_exact(fd, _HEADER.unpack(head)[0])
    if body is None:
        return None
    message = msgpack.unpackb(body, raw=False)
    if not isinstance(message, dict):
        raise EncoderError(f"the embedding worker sent {type(message).__name__}, not a map")
    return message


# -- the server side -------------------------------------------------------------------------
def _config_args(config: Config) -> list[str]:
    return [
        "--model",
        config.model,
        "--query-encoder",
        config.query_encoder,
        "--device",
        config.device,
        "--batch-size",
        str(config.batch_size),
    ]


def _child_env() -> dict[str, str]:
    # The worker shares the machine with the server that started it: tokenizers' own
    # thread pool would only compete with torch's.
    return {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}


class EmbeddingWorker:
    """The server's handle on one embedding worker process (a :class:`DocumentEncoder`).

    Starting it returns at once; the model loads in the child meanwhile, and
    :meth:`ready` says, without waiting, whether it has. :meth:`encode_documents` waits for
    it. ``cancel``, when set during a wait, kills the worker and raises
    :class:`EmbeddingCancelled`.
    """

    def __init__(
        self,
        config: Config,
        *,
        identity: str,
        dim: int,
        cancel: threading.Event | None = None,
    ) -> None:
        self.identity = identity
        self.dim = dim
        self.device = "worker"
        self.cancel = cancel
        self.started = time.monotonic()
        self.load_seconds: float | None = None
        self._hello: dict[str, Any] | None = None
        command = [sys.executable, "-m", MODULE, "embed", *_config_args(config)]
        command += ["--parent", str(os.getpid())]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_child_env(),
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in = self.process.stdin
        self._out = self.process.stdout.fileno()

    @property
    def pid(self) -> int:
        return self.process.pid

    def ready(self) -> bool:
        """Whether the model has loaded (never waits; raises if the worker failed or died)."""
        if self.process.poll() is not None:
            raise EncoderError(self._death("while the run went on"))
        if self._hello is None and self._readable(0):
            self._take_hello()
        return self._hello is not None

    def encode_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._hello is None:
            self._wait()
            self._take_hello()
        try:
            write_frame(self._in, {"texts": list(texts)})
        except OSError as err:
            raise EncoderError(self._death("while texts were sent to it")) from err
        self._wait()
        reply = self._read()
        if "error" in reply:
            raise EncoderError(f"the embedding worker failed: {reply['error']}")
        rows = int(reply["rows"])
        vectors = np.frombuffer(reply["vectors"], dtype=np.float32).reshape(rows, self.dim)
        if rows != len(texts):
            raise EncoderError(f"the embedding worker sent {rows} vectors for {len(texts)} texts")
        if on_batch is not None:
            on_batch(rows)
        return vectors.copy()

    def close(self) -> None:
        """End the worker: end of input, then a kill if it has not exited in a while."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self._in.close()
            try:
                self.process.wait(EXIT_WAIT)
            except subprocess.TimeoutExpired:
                self.kill()
        self._release()

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(EXIT_WAIT)
        self._release()

    # -- internals ---------------------------------------------------------------------------
    def _release(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def _readable(self, timeout: float | None) -> bool:
        ready, _, _ = select.select([self._out], [], [], timeout)
        return bool(ready)

    def _wait(self) -> None:
        """Block until the worker has something to say, watching the cancel event (first:
        a cancelled run stops even when the answer is already there)."""
        while True:
            if self.cancel is not None and self.cancel.is_set():
                self.kill()
                raise EmbeddingCancelled()
            if self._readable(CANCEL_POLL if self.cancel is not None else None):
                return

    def _read(self) -> dict[str, Any]:
        message = read_frame(self._out)
        if message is None:
            raise EncoderError(self._death("before it answered"))
        return message

    def _take_hello(self) -> None:
        hello = self._read()
        if "error" in hello:
            raise EncoderError(f"the embedding worker could not load the model: {hello['error']}")
        if hello.get("identity") != self.identity or int(hello.get("dim", -1)) != self.dim:
            raise EncoderError(
                f"the embedding worker loaded {hello.get('identity')!r} "
                f"(dim {hello.get('dim')}), expected {self.identity!r} (dim {self.dim})"
            )
        self._hello = hello
        self.load_seconds = time.monotonic() - self.started
        log.info(
            "embedding worker %d ready in %.1f s on %s",
            self.pid,
            self.load_seconds,
            hello.get("device"),
        )

    def _death(self, when: str) -> str:
        try:
            code = self.process.wait(EXIT_WAIT)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.returncode
        if code is not None and code < 0:
            how = f"was killed by {_signal_name(-code)}"
        else:
            how = f"exited with status {code}"
        return f"the embedding worker (pid {self.pid}) {how} {when}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def prepare_models(
    config: Config, what: str = "documents", *, timeout: float = PREPARE_TIMEOUT
) -> None:
    """Build, in a child process, what the query encoder (``what="query"``: a shipped
    student, a teacher export) or the ONNX document encoder (``"documents"``: the teacher's
    fp32 export) loads, so that this process never imports torch."""
    command = [sys.executable, "-m", MODULE, "prepare", *_config_args(config)]
    command += ["--parent", str(os.getpid()), "--what", what]
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=_child_env(),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise EncoderError(f"preparing the models took longer than {timeout:.0f} s") from err
    if done.returncode != 0:
        lines = (done.stdout.strip() or done.stderr.strip() or "no output").splitlines()
        raise EncoderError(f"preparing the models failed: {lines[-1]}")


# -- the child side ----------------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    """Get SIGKILL when the parent exits (Linux), and exit now if it already has."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if parent and os.getppid() != parent:
        os._exit(1)


def _protocol_stdout() -> IO[bytes]:
    """The real stdout for frames; file descriptor 1 becomes stderr for everything else."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def embed_main(config: Config) -> int:
    out = _protocol_stdout()
    from codequest.encoders import load_document_encoder

    try:
        encoder = load_document_encoder(config)
    except Exception as err:  # noqa: BLE001 - sent to the server, which reports it
        write_frame(out, {"error": f"{type(err).__name__}: {err}"})
        return 1
    write_frame(
        out,
        {"ready": True, "identity": encoder.identity, "dim": encoder.dim, "device": encoder.device},
    )
    stdin = sys.stdin.buffer.fileno()
    while True:
        message = read_frame(stdin)
        if message is None:
            return 0
        try:
            vectors = encoder.encode_documents([str(t) for t in message.get("texts", [])])
        except Exception as err:  # noqa: BLE001 - one failed batch is the server's to report
            write_frame(out, {"error": f"{type(err).__name__}: {err}"})
            continue
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        write_frame(out, {"rows": len(matrix), "vectors": matrix.tobytes()})


def prepare_main(config: Config, what: str) -> int:
    from codequest.encoders import (
        document_encoder_identity,
        load_query_encoder,
        prepare_document_export,
    )

    try:
        if what == "query":
            load_query_encoder(config, document_encoder_identity(config))
        else:
            prepare_document_export(config)
    except Exception as err:  # noqa: BLE001 - the caller reports the last line
        print(f"{what}: {type(err).__name__}: {err}")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__)
    parser.add_argument("command", choices=("embed", "prepare"))
    parser.add_argument("--model", required=True)
    parser.add_argument("--query-encoder", default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--parent", type=int, default=0)
    parser.add_argument("--what", choices=("query", "documents"), default="documents")
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    config = Config(
        model=args.model,
        query_encoder=args.query_encoder,
        device=args.device,
        batch_size=args.batch_size,
    )
    if args.command == "embed":
        return embed_main(config)
    return prepare_main(config, args.what)


if __name__ == "__main__":
    raise SystemExit(main())
