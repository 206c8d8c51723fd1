"""The vocabulary of rule tables: what a node type means to the chunker's walk.

A language's table maps tree-sitter node types to a :class:`Rule`. The walk in
``codequest.chunking`` visits only node types that have a rule, so a table names the nodes
that are or may hold definitions, and nothing else. Name and kind functions read one node
(and its direct children); none of them recurses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

import tree_sitter

from codequest.types import ChunkKind

Node = tree_sitter.Node
NameFn = Callable[[Node], "str | None"]
KindFn = Callable[[Node], "str | None"]
BodyFn = Callable[[Node], "Node | None"]


def node_text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def field_name(node: Node) -> str | None:
    return node_text(node.child_by_field_name("name")) or None


def body_field(node: Node) -> Node | None:
    return node.child_by_field_name("body")


def strip_brackets(name: str, open_: str = "<", close: str = ">") -> str:
    """``Foo<int, Bar<T>>::baz`` -> ``Foo::baz``; no recursion, one pass."""
    out: list[str] = []
    depth = 0
    for char in name:
        if char == open_:
            depth += 1
        elif char == close and depth:
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def qualified(name: str, separator: str = "::") -> str:
    """Turn a path (``ns::Widget<T>::draw``, ``App\\Http``) into our ``ns.Widget.draw``."""
    # operator< / operator<< would be eaten by template stripping; keep those whole.
    if "<" in name and "operator" not in name:
        name = strip_brackets(name)
    parts = [part.strip() for part in name.replace("\n", " ").split(separator)]
    return ".".join(part for part in parts if part)


def scope_name(node: Node) -> str | None:
    """Name of a namespace/module scope; None (no prefix) for anonymous ones."""
    name = node_text(node.child_by_field_name("name")).strip("'\"`")
    return qualified(name) if name else None


def child_of_type(node: Node, *types: str) -> Node | None:
    """The first named child of one of ``types``."""
    for child in node.named_children:
        if child.type in types:
            return child
    return None


def has_token(node: Node, token: str) -> bool:
    """Whether a direct child is the keyword ``token`` (``interface``, ``struct``)."""
    return any(child.type == token for child in node.children)


def type_name(node: Node | None) -> str:
    """``Array<Element>`` / ``List[A]`` / ``Foo.Bar?`` -> ``Array`` / ``List`` / ``Foo.Bar``."""
    name = strip_brackets(strip_brackets(node_text(node)), "[", "]")
    name = "".join(name.split()).rstrip("?!*&")
    return name.strip("()")


def type_base_name(node: Node | None) -> str:
    """``*Server[T]`` / ``Server<T>`` / ``a::Server`` -> ``Server``."""
    for _ in range(16):
        if node is None:
            return ""
        if node.type in ("pointer_type", "reference_type", "generic_type", "type_arguments"):
            inner = node.child_by_field_name("type")
            node = inner if inner is not None else next(iter(node.named_children), None)
        elif node.type == "scoped_type_identifier":
            node = node.child_by_field_name("name")
        else:
            break
    return qualified(node_text(node))


# --------------------------------------------------------------------------- rules


class Role(Enum):
    DESCEND = "descend"  # may hold definitions; look at the children
    SCOPE = "scope"  # a named scope (namespace, impl): descend and prefix the names
    TYPE_SCOPE = "type_scope"  # like SCOPE, but functions inside are methods (Rust impl)
    # A scope that may have no body (PHP and C# `namespace X;`): then it prefixes the
    # siblings that follow it; with a body it is a SCOPE.
    OPEN_SCOPE = "open_scope"
    WRAP = "wrap"  # decorators/export/template around one definition: it starts here
    DEFINE = "define"  # a definition; with a body function, a class-like container
    SELECT = "select"  # the rule depends on the node: ``select`` picks it (or None: skip)


@dataclass(frozen=True, slots=True)
class Rule:
    role: Role
    kind: str | KindFn = ""
    name: NameFn = field_name
    # Where a class-like definition (or a scope) keeps its members; None for leaves, and
    # for scopes whose members sit in the ``body`` field.
    body: BodyFn | None = None
    select: Callable[[Node], Rule | None] | None = None
    # A test named by free text (its description): a function even inside a type, and a
    # "." in its name is no owner.
    free_name: bool = False
    # The last node of a definition that the grammar parses as a run of siblings (a bats
    # `@test "x" {` line, its body, and a `}` line); None: the node itself.
    last: Callable[[Node], Node | None] | None = None


DESCEND = Rule(Role.DESCEND)


def leaf(kind: str | KindFn, name: NameFn | None = None) -> Rule:
    return Rule(Role.DEFINE, kind, name or field_name)


def named_test(name: NameFn, last: Callable[[Node], Node | None] | None = None) -> Rule:
    """A test named by its description (``test "parses flags"``): a function."""
    return Rule(Role.DEFINE, ChunkKind.FUNCTION, name, free_name=True, last=last)


def container(kind: str | KindFn, name: NameFn | None = None, body: BodyFn | None = None) -> Rule:
    return Rule(Role.DEFINE, kind, name or field_name, body or body_field)


def scope(name: NameFn | None = None, body: BodyFn | None = None, *, typed: bool = False) -> Rule:
    """A named scope; ``typed``: functions inside are methods (an impl, an extension)."""
    role = Role.TYPE_SCOPE if typed else Role.SCOPE
    return Rule(role, name=name or scope_name, body=body)


def select(choose: Callable[[Node], Rule | None]) -> Rule:
    return Rule(Role.SELECT, select=choose)


def node_types(*types: str) -> Callable[[Node], bool]:
    """A leading-node predicate: nodes of these types (comments, attributes)."""
    wanted = frozenset(types)
    return lambda node: node.type in wanted


@dataclass(frozen=True, slots=True)
class Grammar:
    """How to chunk one language: its rule table and what belongs above a definition."""

    rules: Mapping[str, Rule]
    # Nodes directly above a definition that belong to its chunk (doc comments).
    leading: Callable[[Node], bool] = field(default_factory=lambda: node_types("comment"))
    # Consecutive definitions of one name are one chunk: Haskell's signature and equations,
    # Elixir's function clauses.
    merge_clauses: bool = False
