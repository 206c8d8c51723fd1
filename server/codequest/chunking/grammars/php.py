"""PHP: namespaces prefix their members (``App\\Http\\Kernel::handle`` is
``App.Http.Kernel.handle``), whether braced or a ``namespace X;`` header; classes,
interfaces, traits and enums hold methods.

``if (! function_exists('x')) { function x() {} }``, the helper-file idiom, is looked into.
"""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Node,
    Role,
    Rule,
    container,
    field_name,
    leaf,
    qualified,
)
from codequest.types import ChunkKind


def _namespace_name(node: Node) -> str | None:
    return qualified(field_name(node) or "", "\\") or None


PHP = Grammar(
    {
        "program": DESCEND,
        "namespace_definition": Rule(Role.OPEN_SCOPE, name=_namespace_name),
        "compound_statement": DESCEND,
        "if_statement": DESCEND,
        "else_clause": DESCEND,
        "else_if_clause": DESCEND,
        "colon_block": DESCEND,
        "class_declaration": container(ChunkKind.CLASS),
        "interface_declaration": container(ChunkKind.INTERFACE),
        "trait_declaration": container(ChunkKind.TRAIT),
        "enum_declaration": container(ChunkKind.ENUM),
        "method_declaration": leaf(ChunkKind.FUNCTION),
        "function_definition": leaf(ChunkKind.FUNCTION),
    }
)
