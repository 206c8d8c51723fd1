"""Lua: named functions, however they are written, and tables of functions.

``function M.setup()``, ``function Picker:new()`` and ``M.setup = function() end`` are
``M.setup`` and ``Picker.new`` (methods: a module table is the nearest thing to a class);
``local function helper()`` and ``local helper = function() end`` are ``helper``. A table
constructor assigned to a name and holding functions (``M.log = { skip = function() end }``)
is a class ``M.log`` whose functions are ``M.log.skip``. busted's ``it("name", function()
... end)`` is a function named by its description, inside the scope its ``describe`` names.
"""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Node,
    Rule,
    child_of_type,
    container,
    leaf,
    named_test,
    node_text,
    scope,
    select,
)
from codequest.types import ChunkKind

_NAMES = ("identifier", "dot_index_expression", "method_index_expression")


def _path(node: Node | None) -> str | None:
    if node is None or node.type not in _NAMES:
        return None
    return "".join(node_text(node).replace(":", ".").split()) or None


def _function_name(node: Node) -> str | None:
    return _path(node.child_by_field_name("name"))


def _assignment(node: Node) -> tuple[Node, Node] | None:
    """The one target and value of ``a.b = v`` or ``local a = v``; None for ``a, b = x, y``."""
    if node.type == "variable_declaration":
        inner = child_of_type(node, "assignment_statement")
        if inner is None:
            return None
        node = inner
    names = child_of_type(node, "variable_list")
    values = child_of_type(node, "expression_list")
    if names is None or values is None or names.named_child_count != 1:
        return None
    if values.named_child_count != 1:
        return None
    return names.named_children[0], values.named_children[0]


def _is_function_field(node: Node) -> bool:
    value = node.child_by_field_name("value")
    return node.type == "field" and value is not None and value.type == "function_definition"


def _assigned_name(node: Node) -> str | None:
    assignment = _assignment(node)
    return _path(assignment[0]) if assignment is not None else None


def _assigned_table(node: Node) -> Node | None:
    assignment = _assignment(node)
    return assignment[1] if assignment is not None else None


def _field_name(node: Node) -> str | None:
    if not _is_function_field(node):
        return None
    name = node.child_by_field_name("name")
    if name is not None and name.type == "string":
        name = child_of_type(name, "string_content")
    return node_text(name) or None


_FUNCTION = leaf(ChunkKind.FUNCTION, _assigned_name)
_TABLE = container(ChunkKind.CLASS, _assigned_name, _assigned_table)


def _assignment_rule(node: Node) -> Rule | None:
    """``x = function() end`` is a function, ``x = { f = function() end }`` a table."""
    assignment = _assignment(node)
    if assignment is None:
        return None
    value = assignment[1]
    if value.type == "function_definition":
        return _FUNCTION
    if value.type == "table_constructor" and any(map(_is_function_field, value.named_children)):
        return _TABLE
    return None


def _description(node: Node) -> str | None:
    arguments = node.child_by_field_name("arguments")
    first = next(iter(arguments.named_children), None) if arguments is not None else None
    content = child_of_type(first, "string_content") if first is not None else None
    return node_text(content) or None


def _callback_body(node: Node) -> Node | None:
    arguments = node.child_by_field_name("arguments")
    callback = child_of_type(arguments, "function_definition") if arguments is not None else None
    return callback.child_by_field_name("body") if callback is not None else None


_CALLS = {"describe": scope(_description, _callback_body), "it": named_test(_description)}


def _call_rule(node: Node) -> Rule | None:
    """busted's ``describe``/``it`` with a callback; other calls are not definitions."""
    if _callback_body(node) is None:
        return None
    return _CALLS.get(node_text(node.child_by_field_name("name")))


LUA = Grammar(
    {
        "chunk": DESCEND,
        "function_declaration": leaf(ChunkKind.FUNCTION, _function_name),
        "assignment_statement": select(_assignment_rule),
        "variable_declaration": select(_assignment_rule),
        "field": leaf(ChunkKind.FUNCTION, _field_name),
        "function_call": select(_call_rule),
    }
)
