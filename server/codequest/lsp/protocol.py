"""JSON-RPC plumbing: plain params for custom methods, and InvalidParams for bad requests.

pygls 2 turns the params of methods that lsprotocol does not know (``codequest/search``)
into namedtuples, renaming keys that are not identifiers; we keep them as the plain JSON
values they are and validate them by hand. And when the params of a standard request do
not fit its lsprotocol type, pygls logs the error and never answers; we answer with
``InvalidParams`` (-32602) naming what was wrong, and keep serving.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import attrs
import cattrs
from lsprotocol import converters, types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    LanguageServerProtocol,
)

log = logging.getLogger(__name__)


def plain_converter() -> cattrs.Converter:
    """lsprotocol's converter, but generic messages keep their params as plain JSON."""
    converter = converters.get_converter()

    def request(obj: dict[str, Any], cls: type) -> JsonRPCRequestMessage:
        return JsonRPCRequestMessage(
            id=obj["id"], method=obj["method"], jsonrpc=obj["jsonrpc"], params=obj.get("params")
        )

    def notification(obj: dict[str, Any], cls: type) -> JsonRPCNotification:
        return JsonRPCNotification(
            method=obj["method"], jsonrpc=obj["jsonrpc"], params=obj.get("params")
        )

    def response(obj: dict[str, Any], cls: type) -> JsonRPCResponseMessage:
        return JsonRPCResponseMessage(
            id=obj["id"], jsonrpc=obj["jsonrpc"], result=obj.get("result")
        )

    converter.register_structure_hook(JsonRPCRequestMessage, request)
    converter.register_structure_hook(JsonRPCNotification, notification)
    converter.register_structure_hook(JsonRPCResponseMessage, response)
    return converter


class PlainResult(dict[str, Any]):
    """A handler result that is plain JSON already (str keys; str, number, bool, None,
    list and dict values), so it is sent as it is.

    pygls hands every response to cattrs, which walks a result value by value before
    ``json.dumps`` sees it: for a 20-result search that walk cost as much CPU as the JSON
    encoding itself, on the request's critical path.
    """


@attrs.define
class _Malformed:
    """A message whose params did not fit the method's type; answered, never dispatched."""

    id: Any
    method: str
    problem: str


def _describe(err: BaseException) -> str:
    cause = err.__cause__
    if isinstance(cause, cattrs.ClassValidationError):
        return "; ".join(m.replace("@ $.", "@ ") for m in cattrs.transform_error(cause)[:3])
    return str(cause or err)


class CodeQuestProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as err:
            if "method" not in data:
                raise
            problem = f"invalid params for {data['method']}: {_describe(err)}"
            log.warning("%s", problem)
            return _Malformed(data.get("id"), str(data["method"]), problem)

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Malformed):
            if message.id is not None:  # a request: answer it; a notification: drop it
                error = types.ResponseError(code=JsonRpcInvalidParams.CODE, message=message.problem)
                self._send_response(message.id, error=error)
            return
        super().handle_message(message)

    def _send_response(
        self, msg_id: Any, result: Any | None = None, error: types.ResponseError | None = None
    ) -> None:
        if error is None and type(result) is PlainResult:
            self._result_types.pop(msg_id, None)
            self._send_data({"jsonrpc": self.VERSION, "id": msg_id, "result": result})
            return
        super()._send_response(msg_id, result=result, error=error)


def invalid_params(message: str) -> JsonRpcInvalidParams:
    """The error a handler raises for bad params; the client sees exactly ``message``."""
    return JsonRpcInvalidParams(message)


def show(value: Any, width: int = 80) -> str:
    """A value as JSON, shortened, for error messages: ``got 42``, ``got null``."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
