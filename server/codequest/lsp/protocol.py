"""JSON-RPC plumbing: plain params for custom methods, and InvalidParams for bad requests.

pygls 2 turns the params of methods that lsprotocol does not know (``codequest/search``)
into namedtuples, renaming keys that are not identifiers; we keep them as the plain JSON
values they are and validate them by hand. And when the params of a standard request do
not fit its lsprotocol type, pygls logs the error and never answers; we answer with
``InvalidParams`` (-32602) naming what was wrong, and keep serving.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from typing import Any

import attrs
import cattrs
from lsprotocol import converters, types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    LanguageServerProtocol,
)

log = logging.getLogger(__name__)

try:  # a C JSON encoder: an order of magnitude faster than json.dumps on a search reply
    import orjson
except ImportError:  # pragma: no cover - a dependency; json.dumps does the same job slower
    orjson = None  # type: ignore[assignment]


def plain_json_bytes(message: dict[str, Any]) -> bytes:
    """A plain-JSON message (see :class:`PlainResult`) as compact UTF-8 JSON."""
    if orjson is not None:
        try:
            return orjson.dumps(message)
        except TypeError:  # orjson.JSONEncodeError is one: e.g. an integer over 64 bits
            pass  # the standard encoder takes anything JSON
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def loads_json(body: bytes) -> Any:
    """Parse a JSON message body; raises ValueError if it is not JSON."""
    if orjson is not None:
        return orjson.loads(body)  # orjson.JSONDecodeError is a ValueError
    return json.loads(body)


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
            message = {"jsonrpc": self.VERSION, "id": msg_id, "result": result}
            if self._include_headers and self.writer is not None:
                self._send_plain(message)
            else:
                self._send_data(message)
            return
        super()._send_response(msg_id, result=result, error=error)

    def _send_plain(self, message: dict[str, Any]) -> None:
        """pygls' ``_send_data`` for a message that is plain JSON already.

        Same framing, a faster encoder. pygls' body is ASCII (``json.dumps`` escapes the
        rest), so it counts ``Content-Length`` in characters; this body is UTF-8, so it is
        counted in bytes, as the base protocol defines it.
        """
        assert self.writer is not None
        try:
            body = plain_json_bytes(message)
            header = (
                f"Content-Length: {len(body)}\r\n"
                f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n"
            ).encode("ascii")
            res = self.writer.write(header + body)
            if inspect.isawaitable(res):
                asyncio.ensure_future(res)
        except BrokenPipeError:
            log.exception("error sending data: the client closed the connection")
            raise
        except Exception as error:  # noqa: BLE001 - reported like pygls reports its own
            log.exception("error sending data")
            self._server._report_server_error(error, JsonRpcInternalError)


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
