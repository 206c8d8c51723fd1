"""The CodeQuest language server: lifecycle, settings, folders, and thread-safe messaging.

:func:`create_server` builds a :class:`CodeQuestServer` and registers the features, each
in its own module; :func:`run_server` serves it over stdio or TCP (``codequest serve``).

Threads: one thread reads stdin and answers ``codequest/search`` itself when nothing can
make it wait; every other message goes to pygls on an asyncio loop
(:mod:`codequest.lsp.transport`). Other threaded requests run in pygls' thread pool,
indexing in one :class:`~codequest.lsp.indexing.IndexWorker` thread, and the query encoder
loads in a thread of its own, so no request ever waits for indexing or a model load on the
loop. Replies are written by the thread that made them (each is one whole write to the
buffered stdout, which locks). Notifications and requests to the client are sent from the
loop only: :meth:`CodeQuestServer.post` hands them over.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
import threading
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls import uris
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer

from codequest import __version__
from codequest.config import Config
from codequest.index.embedding import LeanEmbedder
from codequest.lsp import commands, inline, lifecycle, search, symbols, transport, watching
from codequest.lsp.config import (
    INDEX_SETTINGS,
    QUERY_ENCODER_SETTINGS,
    changed_settings,
    folder_config,
    parse_settings,
)
from codequest.lsp.encoder import SharedQueryEncoder
from codequest.lsp.indexing import (
    ERROR,
    IDLE,
    FolderIndex,
    IndexStatus,
    IndexWorker,
    combine,
    warm_search,
)
from codequest.lsp.progress import REPORT_INTERVAL, Throttle
from codequest.lsp.protocol import CodeQuestProtocol, plain_converter
from codequest.prebuilt import open_workspace
from codequest.workspace import Workspace

log = logging.getLogger(__name__)

INDEX_STATUS = "codequest/indexStatus"
PROGRESS_CREATE_TIMEOUT = 10.0
SWITCH_INTERVAL = 0.001  # seconds; see run_server


class CodeQuestServer(LanguageServer):
    """A pygls server plus the CodeQuest state: settings, folders, indexer, query encoder."""

    def __init__(self) -> None:
        super().__init__(
            "codequest",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.None_,
            protocol_cls=CodeQuestProtocol,
            converter_factory=plain_converter,
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self.base_config = Config()  # from initializationOptions
        self.config = Config()  # in effect: base_config plus didChangeConfiguration
        self.setting_problems: list[str] = []
        # Replaced, never mutated, so other threads can iterate over it safely.
        self.folders: dict[str, FolderIndex] = {}
        self.indexer = IndexWorker(self)
        # Index runs embed without torch here, or in a worker process (index.embedding).
        self.embedder = LeanEmbedder()
        self.query_encoder: SharedQueryEncoder | None = None
        self._encoder_lock = threading.Lock()
        self.progress_cancels: dict[types.ProgressToken, threading.Event] = {}
        self._status_throttle = Throttle(REPORT_INTERVAL)
        self._status_lock = threading.Lock()
        self._last_status: dict[str, Any] | None = None
        self.watcher = watching.Watcher(self)

    # -- transport -----------------------------------------------------------------------
    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """Serve on stdio: a thread reads stdin and answers searches (see transport)."""
        stdin = stdin or sys.stdin.buffer
        stdout = stdout or sys.stdout.buffer
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout))

        async def serve() -> None:
            loop = asyncio.get_running_loop()
            ended: asyncio.Future[None] = loop.create_future()

            def end() -> None:
                if not ended.done():
                    ended.set_result(None)

            transport.StdinDispatcher(
                transport.FrameReader(transport.blocking_reader(stdin)),
                loop,
                deliver=self.deliver,
                answer_inline=functools.partial(inline.answer_inline, self),
                on_end=end,
            ).start()
            await ended

        try:
            asyncio.run(serve())
        except BrokenPipeError:
            log.error("the connection to the client is lost; shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    def deliver(self, body: bytes) -> None:
        """Handle one message body on the loop, as pygls' own reader does."""
        try:
            message = json.loads(body, object_hook=self.protocol.structure_message)
            self.protocol.handle_message(message)
        except Exception as exc:  # noqa: BLE001 - reported; the next message is served
            log.exception("Unable to handle message")
            self.report_server_error(exc, JsonRpcException)

    # -- client capabilities -------------------------------------------------------------
    def client_supports(self, field: str) -> bool:
        return bool(get_capability(self.client_capabilities, field, False))

    # -- messaging from any thread -------------------------------------------------------
    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the event loop: the only thread that writes to the client."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        log.info("%s", message)
        self.post(self.window_log_message, types.LogMessageParams(type=kind, message=message))

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        """Show a message to the user (and log it, so it stays in the output channel)."""
        self.log(message, kind)
        self.post(self.window_show_message, types.ShowMessageParams(type=kind, message=message))

    def create_progress(self, token: str) -> bool:
        """``window/workDoneProgress/create``, from a worker thread; False when unsupported."""
        loop = self.loop
        if (
            loop is None
            or not self.client_supports("window.work_done_progress")
            or threading.get_ident() == self._loop_thread
        ):
            return False
        future = asyncio.run_coroutine_threadsafe(self.work_done_progress.create_async(token), loop)
        try:
            future.result(PROGRESS_CREATE_TIMEOUT)
        except (FutureTimeout, Exception) as err:  # noqa: BLE001 - fall back to log messages
            log.warning("window/workDoneProgress/create failed: %r", err)
            future.cancel()
            return False
        return True

    def index_status(self, folders: list[FolderIndex] | None = None) -> IndexStatus:
        chosen = list(self.folders.values()) if folders is None else folders
        return combine([f.status for f in chosen])

    def publish_status(self, *, force: bool = False) -> None:
        """Send ``codequest/indexStatus`` when it changed, at most ~10 a second unless forced."""
        status = self.index_status().to_json()
        with self._status_lock:
            if status == self._last_status or not self._status_throttle.ready(force=force):
                return
            self._last_status = status
        self.post(self.protocol.notify, INDEX_STATUS, status)

    # -- settings ------------------------------------------------------------------------
    def apply_settings(self, raw: Any) -> None:
        """Apply settings from ``didChangeConfiguration`` on top of ``initializationOptions``."""
        new, problems = parse_settings(raw, base=self.base_config)
        if problems:
            self.show("CodeQuest settings: " + "; ".join(problems), types.MessageType.Warning)
        old, self.config = self.config, new
        changed = changed_settings(old, new)
        if not changed:
            return
        self.log(f"CodeQuest: settings changed: {', '.join(sorted(changed))}")
        if changed & QUERY_ENCODER_SETTINGS:
            self.ensure_query_encoder()
        if changed & (INDEX_SETTINGS | QUERY_ENCODER_SETTINGS):
            for folder in self.folders.values():
                folder.outdated = True
                self.indexer.cancel(folder.uri)
            self.indexer.request(list(self.folders))
        else:
            for folder in self.folders.values():
                if folder.workspace is not None:
                    folder.workspace.config = new
                    folder.workspace.close()  # the next search builds a searcher with it

    def ensure_query_encoder(self) -> SharedQueryEncoder:
        """The resident query encoder for the current settings, loading in the background."""
        config = self.config
        with self._encoder_lock:
            current = self.query_encoder
            if current is not None and not (
                changed_settings(current.config, config) & QUERY_ENCODER_SETTINGS
            ):
                return current
            self.query_encoder = SharedQueryEncoder(config, on_loaded=self._encoder_loaded)
            self.query_encoder.start()
            return self.query_encoder

    def _encoder_loaded(self, line: str, warning: bool) -> None:
        """The start-up log names the encoder that answers queries (or why none does).
        Then, in the same background thread, the document encoder that embeds edits is
        exported if it never was, so that the first edit only has to load it."""
        self.log(line, types.MessageType.Warning if warning else types.MessageType.Info)
        self.embedder.prepare(self.config)

    # -- folders -------------------------------------------------------------------------
    def add_folders(self, items: list[tuple[str, str]]) -> list[str]:
        added: dict[str, FolderIndex] = {}
        for uri, name in items:
            path = uris.to_fs_path(uri)
            if path is None:
                self.log(f"CodeQuest: {uri} is not a local folder; not indexed")
                continue
            folder = FolderIndex(uri, Path(path), name or Path(path).name)
            added[uri] = folder
        self.folders = {**self.folders, **added}
        return list(added)

    def remove_folders(self, uris_: list[str]) -> None:
        for uri in uris_:
            self.indexer.cancel(uri)
        self.folders = {k: v for k, v in self.folders.items() if k not in uris_}
        self.publish_status(force=True)

    def find_folder(self, uri: str) -> FolderIndex | None:
        """The open folder this URI names (compared as paths, so encodings may differ)."""
        if uri in self.folders:
            return self.folders[uri]
        path = uris.to_fs_path(uri)
        if path is None:
            return None
        wanted = Path(path)
        for folder in self.folders.values():
            if folder.path == wanted or (folder.workspace and folder.workspace.root == wanted):
                return folder
        return None

    def folder_of(self, path: Path) -> FolderIndex | None:
        """The innermost open folder that contains ``path``."""
        best: FolderIndex | None = None
        for folder in self.folders.values():
            if folder.contains(path) and (
                best is None or len(folder.path.parts) > len(best.path.parts)
            ):
                best = folder
        return best

    def open_folder(self, folder: FolderIndex) -> Workspace | None:
        """The folder's engine workspace, created (and its stored index loaded) if needed.

        Runs in the indexing thread, or in a pool thread for a folder added later. A folder
        that cannot be opened (an unknown model, an unreadable folder) is marked ``error``
        and the user is told why.
        """
        with folder.open_lock:
            try:
                if folder.workspace is None or folder.outdated:
                    self._open(folder)
            finally:
                folder.opened.set()
            return folder.workspace if not folder.outdated else None

    def _open(self, folder: FolderIndex) -> None:
        try:
            ws = open_workspace(  # a plain Workspace, or one on a prebuilt index (indexPath)
                folder.path,
                folder_config(self.config, folder.path),
                query_encoder=self.ensure_query_encoder(),
                embedder=self.embedder,
            )
            stored = len(ws.store.files)  # loads the persisted index
        except Exception as err:  # noqa: BLE001 - reported, the other folders go on
            log.exception("cannot open %s", folder.path)
            message = f"cannot index {folder.name}: {err}"
            folder.problem = message
            folder.set_status(IndexStatus(ERROR, 0, 0, message))
            self.publish_status(force=True)
            self.show(f"CodeQuest: {message}", types.MessageType.Error)
            return
        warm_search(ws)
        folder.workspace = ws
        folder.outdated = False
        folder.problem = ws.problem or ws.fallback_reason
        if folder.problem:
            self.log(f"CodeQuest: {folder.name}: {folder.problem}", types.MessageType.Warning)
        folder.set_status(IndexStatus(IDLE, stored, stored))
        self.publish_status(force=True)


def create_server() -> CodeQuestServer:
    """A server with every feature registered, one module each."""
    server = CodeQuestServer()
    lifecycle.register(server)
    search.register(server)
    symbols.register(server)
    commands.register(server)
    watching.register(server)
    return server


class _ExpectedNotAnError(logging.Filter):
    """Drops tracebacks of things that are not errors of the server.

    pygls logs a traceback for every request with params that do not fit (our protocol
    logs one line and answers InvalidParams) and for every request a handler rejects with
    InvalidParams (the client gets the message); asyncio logs the SystemExit with which
    pygls ends a TCP session. It also warns of every ``$/cancelRequest`` for a request
    already answered, which is what a cancelled search on the stdin thread always is
    (the cancel is read after the reply): the client ignores that reply, as LSP defines.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith(("Unable to deserialize message", "Cancel notification for")):
            return False
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, (SystemExit, JsonRpcInvalidParams))


def run_server(tcp: str | None = None, *, debug: bool = False) -> int:
    """Serve on stdio, or on ``HOST:PORT`` when ``tcp`` is given; returns the exit status.

    The log goes to stderr, which editors show as the server's output; ``debug`` adds
    CodeQuest's own debug records (tracebacks of what it recovered from).
    """
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="codequest: %(levelname)s %(message)s"
    )
    if debug:
        logging.getLogger("codequest").setLevel(logging.DEBUG)
    # A search thread that wants the GIL while the indexing thread runs Python waits up to
    # one switch interval per hand-off (5 ms by default): a fifth of that keeps searches
    # during indexing responsive at a small cost to indexing.
    sys.setswitchinterval(SWITCH_INTERVAL)
    server = create_server()
    quiet = _ExpectedNotAnError()
    logging.getLogger("pygls.protocol.json_rpc").addFilter(quiet)
    if tcp:
        host, sep, port = tcp.rpartition(":")
        if not sep or not port.isdigit():
            print(f"codequest: error: --tcp expects HOST:PORT, got {tcp!r}", file=sys.stderr)
            return 2
        logging.getLogger("asyncio").addFilter(quiet)
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
    return 0 if server.protocol._shutdown else 1
