"""Python: classes hold methods; module-level ``if``/``try``/``with`` blocks are looked into."""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Role,
    Rule,
    container,
    leaf,
    node_text,
)
from codequest.types import ChunkKind

_PYTHON: dict[str, Rule] = {
    "module": DESCEND,
    "block": DESCEND,
    # Module-level `if TYPE_CHECKING:`, `try: import x except ImportError: def ...`.
    **dict.fromkeys(
        [
            "if_statement",
            "elif_clause",
            "else_clause",
            "try_statement",
            "except_clause",
            "finally_clause",
            "with_statement",
        ],
        DESCEND,
    ),
    "decorated_definition": Rule(Role.WRAP),
    "function_definition": leaf(ChunkKind.FUNCTION),
    "class_definition": container(ChunkKind.CLASS),
    "type_alias_statement": leaf(
        ChunkKind.TYPE, lambda n: node_text(n.child_by_field_name("left"))
    ),
}


PYTHON = Grammar(_PYTHON)
