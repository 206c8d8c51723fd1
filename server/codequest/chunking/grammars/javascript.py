"""JavaScript and TypeScript (and TSX): functions, classes and the functions that are values.

``const f = () => {}``, ``Foo.prototype.bar = function () {}`` and class fields holding
functions are definitions; an anonymous ``export default`` one is named ``default``.
TypeScript adds interfaces, type aliases, enums and namespaces (which prefix their
members).
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
    node_text,
    node_types,
    scope,
)
from codequest.types import ChunkKind

_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)


def _name_or_default(node: Node) -> str | None:
    """Named class/function expressions, and anonymous ones that are a default export."""
    name = field_name(node)
    if name is None and node.parent is not None and node.parent.type == "export_statement":
        return "default"
    return name


def _variable_function_name(node: Node) -> str | None:
    """``const foo = () => {}`` -> ``foo``; None when no declarator holds a function."""
    for child in node.named_children:
        if child.type != "variable_declarator":
            continue
        value = child.child_by_field_name("value")
        if value is not None and value.type in _FUNCTION_VALUES:
            return node_text(child.child_by_field_name("name")) or None
    return None


def _assigned_function_name(node: Node) -> str | None:
    """``Foo.prototype.bar = function () {}`` -> ``Foo.prototype.bar``."""
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    if right is None or right.type not in _FUNCTION_VALUES or left is None:
        return None
    if left.type not in ("identifier", "member_expression"):
        return None
    return "".join(node_text(left).split()) or None


def _field_function_name(node: Node) -> str | None:
    """Class fields holding functions (``onClick = () => {}``) are methods."""
    value = node.child_by_field_name("value")
    if value is None or value.type not in _FUNCTION_VALUES:
        return None
    name = node.child_by_field_name("property") or node.child_by_field_name("name")
    return node_text(name) or None


_JAVASCRIPT: dict[str, Rule] = {
    "program": DESCEND,
    "export_statement": Rule(Role.WRAP),
    "expression_statement": DESCEND,
    "function_declaration": leaf(ChunkKind.FUNCTION),
    "generator_function_declaration": leaf(ChunkKind.FUNCTION),
    "lexical_declaration": leaf(ChunkKind.FUNCTION, _variable_function_name),
    "variable_declaration": leaf(ChunkKind.FUNCTION, _variable_function_name),
    "assignment_expression": leaf(ChunkKind.FUNCTION, _assigned_function_name),
    # Anonymous `export default function () {}` / `export default class {}`.
    "function_expression": leaf(ChunkKind.FUNCTION, _name_or_default),
    "class_declaration": container(ChunkKind.CLASS),
    "class": container(ChunkKind.CLASS, _name_or_default),
    "method_definition": leaf(ChunkKind.METHOD),
    "field_definition": leaf(ChunkKind.METHOD, _field_function_name),
}

_TYPESCRIPT: dict[str, Rule] = {
    **_JAVASCRIPT,
    "abstract_class_declaration": container(ChunkKind.CLASS),
    "public_field_definition": leaf(ChunkKind.METHOD, _field_function_name),
    "interface_declaration": leaf(ChunkKind.INTERFACE),
    "type_alias_declaration": leaf(ChunkKind.TYPE),
    "enum_declaration": leaf(ChunkKind.ENUM),
    "ambient_declaration": DESCEND,  # `declare module "x" { ... }`
    "internal_module": scope(),  # `namespace N { ... }`
    "module": scope(),
    # Only reached through a namespace body: function bodies are never entered.
    "statement_block": DESCEND,
}


# Comments (and TypeScript member decorators, which are siblings in the tree) directly above a
# definition belong to its chunk.
_SCRIPT_LEADING = node_types("comment", "decorator")
JAVASCRIPT = Grammar(_JAVASCRIPT, _SCRIPT_LEADING)
TYPESCRIPT = Grammar(_TYPESCRIPT, _SCRIPT_LEADING)
