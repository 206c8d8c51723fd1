"""Kotlin: classes, interfaces, enum classes and objects hold functions; properties are
not chunks.

A companion object adds no name: ``Route.root()`` is called as such, so its functions are
``Route.root`` (a named companion, ``companion object Factory``, adds ``Factory``). An
extension function ``fun Route.get()`` is ``Route.get``, the way Go names a method by its
receiver. The package does not prefix names (as in Java).
"""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Node,
    child_of_type,
    container,
    field_name,
    has_token,
    leaf,
    node_text,
    node_types,
    scope,
    type_name,
)
from codequest.types import ChunkKind

_BODIES = ("class_body", "enum_class_body")


def _body(node: Node) -> Node | None:
    return child_of_type(node, *_BODIES)


def _class_kind(node: Node) -> str:
    if has_token(node, "interface"):
        return ChunkKind.INTERFACE
    modifiers = child_of_type(node, "modifiers")
    if modifiers is not None and any(
        node_text(child) == "enum" for child in modifiers.named_children
    ):
        return ChunkKind.ENUM
    return ChunkKind.CLASS


def _function_name(node: Node) -> str | None:
    """``fun Route.get()`` -> ``Route.get``: the receiver type comes before the name."""
    name = node.child_by_field_name("name")
    if name is None:
        return None
    for child in node.named_children:
        if child.start_byte >= name.start_byte:
            break
        if child.type in ("user_type", "nullable_type", "parenthesized_type"):
            return f"{type_name(child)}.{node_text(name)}"
    return node_text(name)


def _companion_name(node: Node) -> str | None:
    return field_name(node)


def _type_alias_name(node: Node) -> str | None:
    return node_text(node.child_by_field_name("type")) or None


KOTLIN = Grammar(
    {
        "source_file": DESCEND,
        "class_declaration": container(_class_kind, body=_body),
        "object_declaration": container(ChunkKind.CLASS, body=_body),
        "companion_object": scope(_companion_name, _body, typed=True),
        "function_declaration": leaf(ChunkKind.FUNCTION, _function_name),
        "secondary_constructor": leaf(ChunkKind.FUNCTION, lambda _: "constructor"),
        "type_alias": leaf(ChunkKind.TYPE, _type_alias_name),
    },
    node_types("line_comment", "block_comment"),
)
