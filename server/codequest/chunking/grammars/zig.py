"""Zig: functions, and containers declared as constants: ``const Param = struct { ... }``
is a struct ``Param`` whose functions are ``Param.matches`` (enums, unions and opaques
likewise; an error set is an enum). A ``test "name"`` block is a function named by its
string (``test parse`` by its identifier).

A generic type (``fn Parser(...) type { return struct { ... }; }``) is a function: its
body is not looked into.
"""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Node,
    child_of_type,
    container,
    leaf,
    named_test,
    node_text,
)
from codequest.types import ChunkKind

_CONTAINERS = {
    "struct_declaration": ChunkKind.STRUCT,
    "union_declaration": ChunkKind.STRUCT,
    "opaque_declaration": ChunkKind.STRUCT,
    "enum_declaration": ChunkKind.ENUM,
    "error_set_declaration": ChunkKind.ENUM,
}


def _value(node: Node) -> Node | None:
    return child_of_type(node, *_CONTAINERS)


def _container_kind(node: Node) -> str | None:
    value = _value(node)
    return _CONTAINERS[value.type] if value is not None else None


def _container_name(node: Node) -> str | None:
    return node_text(child_of_type(node, "identifier")) or None


def _container_body(node: Node) -> Node | None:
    value = _value(node)
    return value if value is not None and value.type != "error_set_declaration" else None


def _test_name(node: Node) -> str | None:
    name = child_of_type(node, "string", "identifier")
    if name is None:
        return ""  # an anonymous `test { ... }`
    content = child_of_type(name, "string_content")
    return node_text(content if content is not None else name)


ZIG = Grammar(
    {
        "source_file": DESCEND,
        "variable_declaration": container(_container_kind, _container_name, _container_body),
        "function_declaration": leaf(ChunkKind.FUNCTION),
        "test_declaration": named_test(_test_name),
    }
)
