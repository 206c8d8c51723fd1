"""Elixir: every definition is a call (``defmodule``, ``def``), told apart by its name.

``defmodule Phoenix.Router`` is a container (kind ``module``) and a nested ``defmodule
Route`` is ``Phoenix.Router.Route``, the module's real name. ``def``, ``defp``,
``defmacro``, ``defguard`` and ``defdelegate`` are functions named by their first argument,
and so is a behaviour's ``@callback``; consecutive clauses of one function are one chunk,
with the ``@doc``, ``@spec`` and ``@impl`` attributes above them. ``defprotocol`` is an
interface and ``defimpl Proto, for: Type`` a module named ``Proto.Type``. ExUnit's
``describe "x"`` names a scope and ``test "y"`` a function, so a test file's tests are
found by their names.
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

_FUNCTIONS = frozenset(
    {
        "def",
        "defp",
        "defmacro",
        "defmacrop",
        "defguard",
        "defguardp",
        "defdelegate",
        "defn",
        "defnp",
    }
)
_DOC_ATTRIBUTES = frozenset({"doc", "spec", "impl", "deprecated"})


def _target(node: Node) -> str:
    return node_text(node.child_by_field_name("target"))


def _arguments(node: Node) -> list[Node]:
    arguments = child_of_type(node, "arguments")
    return list(arguments.named_children) if arguments is not None else []


def _do_block(node: Node) -> Node | None:
    return child_of_type(node, "do_block")


def _function_name(node: Node) -> str | None:
    """``def get(path)``, ``def get(path) when ...``, ``def size, do: 0`` -> ``get``/``size``."""
    arguments = _arguments(node)
    if not arguments:
        return None
    head = arguments[0]
    # Bounded: `when` guards nest a level or two.
    for _ in range(4):
        if head.type == "binary_operator":
            left = head.child_by_field_name("left")
            if left is None:
                break
            head = left
        elif head.type == "call":
            # `def unquote(name)(args)` has no static name; keep the chunk, nameless.
            target = head.child_by_field_name("target")
            return node_text(target) if target is not None and target.type == "identifier" else ""
        else:
            break
    return node_text(head) if head.type in ("identifier", "operator_identifier") else ""


def _module_name(node: Node) -> str | None:
    arguments = _arguments(node)
    return node_text(arguments[0]) if arguments and arguments[0].type == "alias" else None


def _impl_name(node: Node) -> str | None:
    """``defimpl String.Chars, for: Route`` -> ``String.Chars.Route``."""
    arguments = _arguments(node)
    if not arguments or arguments[0].type != "alias":
        return None
    name = node_text(arguments[0])
    keywords = child_of_type(arguments[-1], "pair") if arguments[-1].type == "keywords" else None
    if keywords is not None and node_text(keywords.child_by_field_name("key")).strip() == "for:":
        name += "." + node_text(keywords.child_by_field_name("value"))
    return name


def _string_argument(node: Node) -> str | None:
    arguments = _arguments(node)
    if not arguments or arguments[0].type != "string":
        return None
    return node_text(arguments[0]).strip('"') or None


_MODULE = container(ChunkKind.MODULE, _module_name, _do_block)
_RULES: dict[str, Rule] = {
    "defmodule": _MODULE,
    "defprotocol": container(ChunkKind.INTERFACE, _module_name, _do_block),
    "defimpl": container(ChunkKind.MODULE, _impl_name, _do_block),
    **dict.fromkeys(_FUNCTIONS, leaf(ChunkKind.FUNCTION, _function_name)),
    "describe": scope(_string_argument, _do_block),
    "test": named_test(_string_argument),
}


def _call_rule(node: Node) -> Rule | None:
    return _RULES.get(_target(node))


def _attribute(node: Node) -> Node | None:
    """The call in a module attribute, ``@doc "..."`` -> ``doc "..."``."""
    if node_text(node.child_by_field_name("operator")) != "@":
        return None
    operand = node.child_by_field_name("operand")
    return operand if operand is not None and operand.type == "call" else None


def _callback_name(node: Node) -> str | None:
    attribute = _attribute(node)
    return _function_name(attribute) if attribute is not None else None


_CALLBACK = leaf(ChunkKind.FUNCTION, _callback_name)


def _attribute_rule(node: Node) -> Rule | None:
    """A behaviour's ``@callback get(id) :: t`` declares a function, like a ``def``."""
    attribute = _attribute(node)
    if attribute is None or _target(attribute) not in ("callback", "macrocallback"):
        return None
    return _CALLBACK


def _is_doc(node: Node) -> bool:
    """Comments and ``@doc``/``@spec``/``@impl`` attributes belong to the def below."""
    if node.type == "comment":
        return True
    attribute = _attribute(node) if node.type == "unary_operator" else None
    return attribute is not None and _target(attribute) in _DOC_ATTRIBUTES


ELIXIR = Grammar(
    {
        "source": DESCEND,
        "call": select(_call_rule),
        "unary_operator": select(_attribute_rule),
    },
    _is_doc,
    merge_clauses=True,
)
