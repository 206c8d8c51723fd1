"""CodeQuest's errors as JSON-RPC errors: the one place that decides what a client sees.

A request handler that catches a :class:`~codequest.errors.CodeQuestError` raises
``rpc_error(err)`` instead, or re-raises ``err`` when that is None: pygls then answers it
as an internal error and logs the traceback, as it does for a bug.
"""

from __future__ import annotations

from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from codequest.errors import CodeQuestError, EncoderError, InvalidQuery

REQUEST_FAILED = -32803  # LSP RequestFailed: the request was valid but could not be served


def rpc_error(err: CodeQuestError) -> JsonRpcException | None:
    """The JSON-RPC error for ``err``: ``InvalidParams`` with its message for an invalid
    query (a bad glob), ``RequestFailed`` when no query encoder can answer; None for the
    rest."""
    if isinstance(err, InvalidQuery):
        return JsonRpcInvalidParams(str(err))
    if isinstance(err, EncoderError):
        return JsonRpcException(f"search is unavailable: {err}", REQUEST_FAILED)
    return None
