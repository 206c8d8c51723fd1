"""Answering ``codequest/search`` on the thread that reads stdin (see
:mod:`codequest.lsp.transport`): no hop to the event loop or a pool thread when nothing
can make the search wait."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcRequestCancelled,
)

from codequest.lsp import search
from codequest.lsp.protocol import loads_json
from codequest.lsp.search import SEARCH, SearchRequest, parse_params

if TYPE_CHECKING:
    from codequest.lsp.indexing import FolderIndex
    from codequest.lsp.server import CodeQuestServer

log = logging.getLogger(__name__)

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
        return {"result": search.run_search(ls, request)}
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
