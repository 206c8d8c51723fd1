"""C#: namespaces (braced or file-scoped) prefix their members; classes, structs,
interfaces and records hold methods, constructors, operators and the properties, indexers
and events that have code (``public int X { get; set; }`` is not a chunk).

Constructors are named after their class (``JObject.JObject``), as in Java; a destructor is
``~JObject``, an indexer ``this``, an operator ``operator +``.
"""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Node,
    Role,
    Rule,
    child_of_type,
    container,
    field_name,
    has_token,
    leaf,
    node_text,
    qualified,
    scope,
)
from codequest.types import ChunkKind


def _namespace_name(node: Node) -> str | None:
    return qualified(field_name(node) or "", ".") or None


def _record_kind(node: Node) -> str:
    return ChunkKind.STRUCT if has_token(node, "struct") else ChunkKind.CLASS


def _destructor_name(node: Node) -> str | None:
    return "~" + (field_name(node) or "")


def _operator_name(node: Node) -> str | None:
    operator = node.child_by_field_name("operator")
    if operator is not None:
        return "operator " + node_text(operator)
    # `implicit operator JToken(bool value)`: named by the type it converts to.
    return "operator " + node_text(node.child_by_field_name("type"))


def _accessor_has_code(node: Node) -> bool:
    """An expression body (``=> x``) or an accessor with a body (``get { ... }``)."""
    if child_of_type(node, "arrow_expression_clause") is not None:
        return True
    accessors = node.child_by_field_name("accessors") or child_of_type(node, "accessor_list")
    if accessors is None:
        return False
    return any(
        child_of_type(accessor, "block", "arrow_expression_clause") is not None
        for accessor in accessors.named_children
    )


def _property_name(node: Node) -> str | None:
    return field_name(node) if _accessor_has_code(node) else None


def _indexer_name(node: Node) -> str | None:
    return "this" if _accessor_has_code(node) else None


CSHARP = Grammar(
    {
        "compilation_unit": DESCEND,
        "namespace_declaration": scope(_namespace_name),
        "file_scoped_namespace_declaration": Rule(Role.OPEN_SCOPE, name=_namespace_name),
        "declaration_list": DESCEND,
        # `#if NET6_0 ... #endif` around members.
        "preproc_if": DESCEND,
        "preproc_else": DESCEND,
        "preproc_elif": DESCEND,
        "class_declaration": container(ChunkKind.CLASS),
        "struct_declaration": container(ChunkKind.STRUCT),
        "record_declaration": container(_record_kind),
        "interface_declaration": container(ChunkKind.INTERFACE),
        "enum_declaration": leaf(ChunkKind.ENUM),
        "delegate_declaration": leaf(ChunkKind.TYPE),
        "method_declaration": leaf(ChunkKind.FUNCTION),
        "constructor_declaration": leaf(ChunkKind.FUNCTION),
        "destructor_declaration": leaf(ChunkKind.FUNCTION, _destructor_name),
        "operator_declaration": leaf(ChunkKind.FUNCTION, _operator_name),
        "conversion_operator_declaration": leaf(ChunkKind.FUNCTION, _operator_name),
        "property_declaration": leaf(ChunkKind.FUNCTION, _property_name),
        "indexer_declaration": leaf(ChunkKind.FUNCTION, _indexer_name),
        "event_declaration": leaf(ChunkKind.FUNCTION, _property_name),
    }
)
