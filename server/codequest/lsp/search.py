"""``codequest/search``: semantic code search over the open folders.

Params ``{query, limit?, filters?: {glob?, languages?, excludeTests?}, workspaceFolder?,
explain?}``; result ``{results: [{uri, range, name, kind, language, score, preview,
explain?}], index: {state, indexedFiles, totalFiles, percent, message?}}``.

The request runs on the thread that reads stdin when nothing can make it wait
(:func:`answer_inline`), else in a pool thread; it never waits for indexing, and never
runs on the event loop. It searches whatever is stored so far and says, in ``index``,
how far indexing has got. Results from several folders are merged by score. Ranges are
LSP ranges: 0-based lines, from the start of the first line to the end of the last,
measured in the client's position encoding.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcRequestCancelled,
)

from codequest.discovery.languages import ALL_LANGUAGES
from codequest.errors import EncoderError, InvalidQuery
from codequest.lsp.protocol import PlainResult, invalid_params, loads_json, show
from codequest.text import UTF8_BOM, line_units, split_lines, wide_codec
from codequest.types import SearchFilters, SearchResult

if TYPE_CHECKING:
    from codequest.lsp.indexing import FolderIndex
    from codequest.lsp.server import CodeQuestServer

log = logging.getLogger(__name__)

SEARCH = "codequest/search"
MAX_LIMIT = 1000
# A search that arrives while a folder's stored index is still loading (at start-up) waits
# this long for it; it never waits for indexing.
OPEN_WAIT = 10.0
REQUEST_FAILED = -32803  # LSP RequestFailed: the request was valid but could not be served


@dataclass(frozen=True, slots=True)
class SearchRequest:
    query: str
    limit: int | None
    filters: SearchFilters
    folder: str | None
    explain: bool


def parse_params(params: Any) -> SearchRequest:
    """Validate ``codequest/search`` params; raises InvalidParams saying what is wrong."""
    if not isinstance(params, dict):
        raise invalid_params(f"params must be an object, got {show(params)}")
    query = params.get("query")
    if not isinstance(query, str):
        raise invalid_params(f"query must be a string, got {show(query)}")
    limit = params.get("limit")
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT
    ):
        raise invalid_params(f"limit must be an integer from 1 to {MAX_LIMIT}, got {show(limit)}")
    folder = params.get("workspaceFolder")
    if folder is not None and not isinstance(folder, str):
        raise invalid_params(f"workspaceFolder must be a URI string, got {show(folder)}")
    explain = params.get("explain", False)
    if explain is None:
        explain = False
    if not isinstance(explain, bool):
        raise invalid_params(f"explain must be true or false, got {show(explain)}")
    return SearchRequest(query, limit, parse_filters(params.get("filters")), folder, explain)


def parse_filters(raw: Any) -> SearchFilters:
    if raw is None:
        return SearchFilters()
    if not isinstance(raw, dict):
        raise invalid_params(f"filters must be an object, got {show(raw)}")
    glob = raw.get("glob")
    if glob is not None and not isinstance(glob, str):
        raise invalid_params(f"filters.glob must be a string, got {show(glob)}")
    languages = raw.get("languages") or []
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        raise invalid_params(
            f"filters.languages must be a list of strings, got {show(raw.get('languages'))}"
        )
    unknown = [x for x in languages if x not in ALL_LANGUAGES]
    if unknown:
        raise invalid_params(
            f"filters.languages has unknown language {unknown[0]!r}; "
            f"known: {', '.join(sorted(ALL_LANGUAGES))}"
        )
    exclude_tests = raw.get("excludeTests", False)
    if exclude_tests is None:
        exclude_tests = False
    if not isinstance(exclude_tests, bool):
        raise invalid_params(
            f"filters.excludeTests must be true or false, got {show(exclude_tests)}"
        )
    return SearchFilters(glob=glob or None, languages=tuple(languages), exclude_tests=exclude_tests)


# -- ranges ------------------------------------------------------------------------------
class FileLines:
    """The lines of recently used files, re-read when a file's size or mtime changes.

    Every result's range needs the length of its last line, and a user typing a query sees
    the same files again and again: reading each file once, not once per keystroke, takes
    the disk out of the round trip. Bounded by total bytes; least recently used go first.
    """

    def __init__(
        self, max_bytes: int = 32 << 20, max_file_bytes: int = 4 << 20, recheck: float = 1.0
    ) -> None:
        self.max_bytes = max_bytes
        self.max_file_bytes = max_file_bytes
        # A file looked at less than ``recheck`` seconds ago is not stat()ed again: a search
        # shows 20 results, and a range end that lags a save by a second is harmless.
        self.recheck = recheck
        self._files: OrderedDict[
            Path, tuple[tuple[int, int], list[bytes] | list[str], int, float]
        ] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def lines(self, path: Path) -> list[bytes] | list[str] | None:
        """The file's lines (bytes, or str for UTF-16/32 files); None if unreadable."""
        now = time.monotonic()
        with self._lock:
            hit = self._files.get(path)
            if hit is not None and now - hit[3] < self.recheck:
                self._files.move_to_end(path)
                return hit[1]
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (st.st_size, st.st_mtime_ns)
        with self._lock:
            hit = self._files.get(path)
            if hit is not None and hit[0] == key:
                self._files[path] = (*hit[:3], now)
                self._files.move_to_end(path)
                return hit[1]
        if st.st_size > self.max_file_bytes:
            return None  # the caller streams it instead
        try:
            with open(path, "rb") as fh:
                data = fh.read(self.max_file_bytes + 1)
        except OSError:
            return None
        lines = split_lines(data)
        with self._lock:
            old = self._files.pop(path, None)
            if old is not None:
                self._bytes -= old[2]
            self._files[path] = (key, lines, len(data), now)
            self._bytes += len(data)
            while self._bytes > self.max_bytes and len(self._files) > 1:
                _, (_, _, size, _) = self._files.popitem(last=False)
                self._bytes -= size
        return lines


FILE_LINES = FileLines()


def line_length(path: Path, line: int, encoding: str) -> int | None:
    """Length of 0-based ``line`` of a file in ``encoding`` units; None if unreadable.

    Lines end at ``\\n`` (a trailing ``\\r`` is not counted), as the chunker counts them.
    """
    lines = FILE_LINES.lines(path)
    if lines is None:
        return _stream_line_length(path, line, encoding)
    if line >= len(lines):
        return 0  # the file is shorter now than when it was indexed
    raw = lines[line]
    if isinstance(raw, str):
        text = raw
    elif raw.isascii():  # one unit a byte in every encoding: most lines of code
        return len(raw.rstrip(b"\r"))
    else:
        text = raw.decode("utf-8", errors="replace")
    return _units(text.rstrip("\r"), encoding)


def _stream_line_length(path: Path, line: int, encoding: str) -> int | None:
    """:func:`line_length` for files too big to keep: reads up to that line only."""
    try:
        with open(path, "rb") as fh:
            wide = wide_codec(fh.read(4))
            if wide is not None:
                fh.seek(0)
                lines = fh.read().decode(wide[1], errors="replace").lstrip("\ufeff").split("\n")
                text = lines[line] if line < len(lines) else ""
                return _units(text.rstrip("\r"), encoding)
            fh.seek(0)
            for number, raw in enumerate(fh):
                if number == line:
                    if number == 0 and raw.startswith(UTF8_BOM):
                        raw = raw[len(UTF8_BOM) :]
                    text = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")
                    return _units(text, encoding)
    except OSError:
        return None
    return 0  # the file is shorter now than when it was indexed


def _units(text: str, encoding: str) -> int:
    """``text``'s length in ``encoding`` units (UTF-16 for an encoding we do not know)."""
    return line_units(text)[_UNIT_INDEX.get(encoding, 1)]


_UNIT_INDEX: dict[str, int] = {
    types.PositionEncodingKind.Utf8.value: 0,
    types.PositionEncodingKind.Utf16.value: 1,
    types.PositionEncodingKind.Utf32.value: 2,
}


def result_range(
    path: Path | None,
    start_line: int,
    end_line: int,
    encoding: str,
    end_units: tuple[int, int, int] | None = None,
) -> dict[str, Any]:
    """The LSP range of 1-based inclusive lines: start of the first to end of the last.

    ``end_units``, the end line's lengths recorded at indexing, saves reading the file;
    ``path`` is read only without them (see :func:`needs_file`), and may be None then.
    """
    end = end_line - 1
    unit = _UNIT_INDEX.get(encoding)
    if end_units is not None and unit is not None:
        length: int | None = end_units[unit]
    elif path is None:
        raise ValueError("a range without recorded line lengths needs the file's path")
    else:
        length = line_length(path, end, encoding)
    end_pos = (
        {"line": end, "character": length}
        if length is not None
        else {
            "line": end_line,
            "character": 0,
        }
    )
    return {"start": {"line": start_line - 1, "character": 0}, "end": end_pos}


def needs_file(encoding: str, end_units: tuple[int, int, int] | None) -> bool:
    """Whether :func:`result_range` must read the file (an index without line lengths)."""
    return end_units is None or encoding not in _UNIT_INDEX


def folder_range(
    folder: FolderIndex,
    relpath: str,
    start_line: int,
    end_line: int,
    encoding: str,
    end_units: tuple[int, int, int] | None,
) -> dict[str, Any]:
    """:func:`result_range` of a folder's stored path; the absolute path is built only
    when the file has to be read."""
    path = folder.file_path(relpath) if needs_file(encoding, end_units) else None
    return result_range(path, start_line, end_line, encoding, end_units)


def result_json(folder: FolderIndex, result: SearchResult, encoding: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "uri": folder.file_uri(result.path),
        "range": folder_range(
            folder, result.path, result.start_line, result.end_line, encoding, result.end_units
        ),
        "name": result.symbol,
        "kind": result.kind,
        "language": result.language,
        "score": round(result.score, 6),
        "preview": result.preview,
    }
    if result.explain:
        out["explain"] = {k: round(v, 6) for k, v in result.explain.items()}
    return out


# -- the request -------------------------------------------------------------------------
def run_search(ls: CodeQuestServer, request: SearchRequest) -> dict[str, Any]:
    if request.folder is not None:
        folder = ls.find_folder(request.folder)
        if folder is None:
            raise invalid_params(
                f"workspaceFolder {request.folder!r} is not an open workspace folder"
            )
        folders = [folder]
    else:
        folders = list(ls.folders.values())
    ls.watcher.settle()  # files deleted before this request must not show up in it
    limit = request.limit or ls.config.max_results
    found: list[tuple[FolderIndex, SearchResult]] = []
    for folder in folders:
        ws = folder.wait_opened(OPEN_WAIT)
        if ws is None:
            continue
        try:
            hits = ws.search(
                request.query, limit=limit, filters=request.filters, explain=request.explain
            )
        except InvalidQuery as err:
            raise invalid_params(str(err)) from err
        except EncoderError as err:
            raise JsonRpcException(f"search is unavailable: {err}", REQUEST_FAILED) from err
        found.extend((folder, hit) for hit in hits)
    found.sort(key=lambda item: -item[1].score)
    encoding = position_encoding(ls)
    return PlainResult(
        results=[result_json(folder, hit, encoding) for folder, hit in found[:limit]],
        index=ls.index_status(folders).to_json(),
    )


def position_encoding(ls: CodeQuestServer) -> str:
    """The negotiated position encoding as its wire value ("utf-8", "utf-16", "utf-32").

    pygls keeps it as an enum member, whose ``str()`` is "PositionEncodingKind.Utf8": that
    once made every range UTF-16 whatever the client had asked for.
    """
    encoding: Any = types.PositionEncodingKind.Utf16
    with contextlib.suppress(RuntimeError):
        encoding = ls.workspace.position_encoding or encoding
    return str(encoding.value if isinstance(encoding, enum.Enum) else encoding)


def register(server: CodeQuestServer) -> None:
    @server.feature(SEARCH)
    @server.thread()
    def search(ls: CodeQuestServer, params: Any) -> dict[str, Any]:
        return run_search(ls, parse_params(params))


# -- answering on the stdin thread (see codequest.lsp.transport) --------------------------
_SEARCH_BYTES = b'"' + SEARCH.encode() + b'"'


def answer_inline(
    ls: CodeQuestServer, body: bytes, queued: Callable[[], list[bytes]] = list
) -> bool:
    """Answer a ``codequest/search`` request on the calling thread; True when answered.

    Anything else is left to pygls (False), and so is a search that could wait or that
    pygls would refuse: before ``initialize``, after ``shutdown``, with params it rejects
    (it answers InvalidParams), and while a folder's stored index, the query encoder or a
    search snapshot is still to be loaded or built (:func:`searchable_now`). Called by
    the stdin thread only when the loop has handled every earlier message. ``queued()``
    gives the messages read behind this one: when the client has cancelled the search
    already (typing on while the server is busy), it is answered RequestCancelled
    without running.
    """
    if _SEARCH_BYTES not in body:
        return False
    try:
        message = loads_json(body)
    except ValueError:
        return False  # pygls reports what is wrong with it
    if (
        not isinstance(message, dict)
        or message.get("method") != SEARCH
        or message.get("jsonrpc") != "2.0"
        or type(message.get("id")) not in (int, str)
    ):
        return False
    if ls.loop is None or ls.protocol._shutdown:
        return False
    try:
        request = parse_params(message.get("params"))
    except JsonRpcException:
        return False
    if request.folder is None:
        folders: list[FolderIndex | None] = list(ls.folders.values())
    else:
        folders = [ls.find_folder(request.folder)]
    if not all(folder is not None and searchable_now(folder) for folder in folders):
        return False
    msg_id = message["id"]
    if any(_cancels(later, msg_id) for later in queued()):
        cancelled = JsonRpcRequestCancelled(f"{SEARCH} {msg_id} was cancelled")
        reply: dict[str, Any] = {"error": cancelled.to_response_error()}
    else:
        reply = _search_reply(ls, request, msg_id)
    with contextlib.suppress(BrokenPipeError):  # the client is gone; the reader sees EOF
        ls.protocol._send_response(msg_id, **reply)
    return True


def _search_reply(ls: CodeQuestServer, request: SearchRequest, msg_id: int | str) -> dict[str, Any]:
    """``{"result": ...}`` or ``{"error": ...}``, as pygls would answer the handler."""
    try:
        return {"result": run_search(ls, request)}
    except JsonRpcException as err:
        if not isinstance(err, JsonRpcInvalidParams):
            log.warning("codequest/search %s failed: %s", msg_id, err)
        return {"error": err.to_response_error()}
    except Exception:  # noqa: BLE001 - answered as pygls answers a handler's exception
        log.exception("codequest/search %s failed", msg_id)
        return {"error": JsonRpcInternalError.of(sys.exc_info()).to_response_error()}


def _cancels(body: bytes, msg_id: int | str) -> bool:
    """Whether a message body is a ``$/cancelRequest`` for ``msg_id``."""
    if b"$/cancelRequest" not in body:
        return False
    try:
        message = loads_json(body)
    except ValueError:
        return False
    params = message.get("params") if isinstance(message, dict) else None
    return (
        isinstance(params, dict)
        and message.get("method") == "$/cancelRequest"
        and params.get("id") == msg_id
        and type(params.get("id")) is type(msg_id)
    )


def searchable_now(folder: FolderIndex) -> bool:
    """Whether a search of this folder starts at once: its stored index and the query
    encoder are loaded and its search snapshot is built (a search would wait for each,
    and the stdin thread must not keep the messages behind it waiting that long)."""
    workspace = folder.workspace
    return folder.opened.is_set() and workspace is not None and workspace.ready_to_search
