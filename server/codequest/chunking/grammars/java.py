"""Java: classes, records, interfaces and enums hold methods and constructors."""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Rule,
    container,
    leaf,
    node_types,
)
from codequest.types import ChunkKind

_JAVA: dict[str, Rule] = {
    "program": DESCEND,
    "enum_body_declarations": DESCEND,
    "class_declaration": container(ChunkKind.CLASS),
    "record_declaration": container(ChunkKind.CLASS),
    "interface_declaration": container(ChunkKind.INTERFACE),
    "enum_declaration": container(ChunkKind.ENUM),
    "annotation_type_declaration": leaf(ChunkKind.INTERFACE),
    "method_declaration": leaf(ChunkKind.METHOD),
    "constructor_declaration": leaf(ChunkKind.METHOD),
    "compact_constructor_declaration": leaf(ChunkKind.METHOD),
}


JAVA = Grammar(_JAVA, node_types("line_comment", "block_comment"))
