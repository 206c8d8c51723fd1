"""Rust: ``impl Type`` and ``impl Trait for Type`` name their functions ``Type.method``;
``mod`` prefixes its members; attributes and doc comments above an item belong to it.
"""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Node,
    Rule,
    container,
    leaf,
    node_types,
    scope,
    type_base_name,
)
from codequest.types import ChunkKind


def _rust_impl_name(node: Node) -> str | None:
    return type_base_name(node.child_by_field_name("type")) or None


_RUST: dict[str, Rule] = {
    "source_file": DESCEND,
    "declaration_list": DESCEND,
    "function_item": leaf(ChunkKind.FUNCTION),
    "struct_item": leaf(ChunkKind.STRUCT),
    "union_item": leaf(ChunkKind.STRUCT),
    "enum_item": leaf(ChunkKind.ENUM),
    "type_item": leaf(ChunkKind.TYPE),
    "macro_definition": leaf(ChunkKind.FUNCTION),
    "trait_item": container(ChunkKind.TRAIT),
    "impl_item": scope(_rust_impl_name, typed=True),
    "mod_item": scope(),
}


RUST = Grammar(_RUST, node_types("line_comment", "block_comment", "attribute_item"))
