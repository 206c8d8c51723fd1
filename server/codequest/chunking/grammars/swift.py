"""Swift: classes, structs, enums, actors and protocols hold functions, initializers,
subscripts and computed properties (stored properties are not chunks).

``extension Foo`` adds its members to ``Foo``: ``Foo.member``, as Rust's ``impl`` does; the
extension itself is not a chunk. An initializer is ``init``, a deinitializer ``deinit``.
"""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Node,
    Rule,
    container,
    leaf,
    node_text,
    node_types,
    scope,
    select,
    type_name,
)
from codequest.types import ChunkKind

_KINDS = {
    "class": ChunkKind.CLASS,
    "actor": ChunkKind.CLASS,
    "struct": ChunkKind.STRUCT,
    "enum": ChunkKind.ENUM,
}


def _type_kind(node: Node) -> str | None:
    return _KINDS.get(node_text(node.child_by_field_name("declaration_kind")))


def _type_name(node: Node) -> str | None:
    return type_name(node.child_by_field_name("name")) or None


_EXTENSION = scope(_type_name, typed=True)
_TYPE = container(_type_kind, _type_name)


def _class_or_extension(node: Node) -> Rule:
    kind = node_text(node.child_by_field_name("declaration_kind"))
    return _EXTENSION if kind == "extension" else _TYPE


def _member_name(node: Node) -> str | None:
    # `init` carries a `name` field (`init?`); `deinit` and `subscript` do not.
    for child in node.children:
        if child.type in ("init", "deinit", "subscript"):
            return child.type
    return None


def _computed_property_name(node: Node) -> str | None:
    """Only properties with code (``var isIdle: Bool { ... }``) are chunks."""
    if node.child_by_field_name("computed_value") is None:
        return None
    pattern = node.child_by_field_name("name")
    bound = pattern.child_by_field_name("bound_identifier") if pattern is not None else None
    return node_text(bound or pattern) or None


SWIFT = Grammar(
    {
        "source_file": DESCEND,
        "class_declaration": select(_class_or_extension),
        "protocol_declaration": container(ChunkKind.INTERFACE, _type_name),
        "function_declaration": leaf(ChunkKind.FUNCTION),
        "protocol_function_declaration": leaf(ChunkKind.FUNCTION),
        "init_declaration": leaf(ChunkKind.FUNCTION, _member_name),
        "deinit_declaration": leaf(ChunkKind.FUNCTION, _member_name),
        "subscript_declaration": leaf(ChunkKind.FUNCTION, _member_name),
        "property_declaration": leaf(ChunkKind.FUNCTION, _computed_property_name),
        "typealias_declaration": leaf(ChunkKind.TYPE),
    },
    node_types("comment", "multiline_comment"),
)
