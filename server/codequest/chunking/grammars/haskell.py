"""Haskell: a function is its type signature and all its equations, one chunk; ``data``,
``newtype``, ``type`` and type families are types; a type class is a trait holding its
methods; an instance is named by its head (``ToJSON Bool``), holds its methods, and is
kept whole when small, since its header says what the methods are for.

The module header and imports are not definitions: they go into a window.
"""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Node,
    child_of_type,
    container,
    leaf,
    node_text,
    node_types,
)
from codequest.types import ChunkKind


def _declarations(node: Node) -> Node | None:
    return node.child_by_field_name("declarations")


def _variable_name(node: Node | None) -> str | None:
    """``foo``, ``(<+>)`` and ``a `div` b`` name ``foo``, ``<+>`` and ``div``."""
    if node is None:
        return None
    return node_text(node).strip("()`").strip() or None


def _signature_name(node: Node) -> str | None:
    if node.type in ("default_signature", "foreign_import"):
        signature = node.child_by_field_name("signature") or child_of_type(node, "signature")
        if signature is None:
            return None
        node = signature
    names = node.child_by_field_name("names")  # `x, y :: Int`: named by the first
    if names is not None:
        return _variable_name(next(iter(names.named_children), None))
    return _variable_name(node.child_by_field_name("name"))


def _equation_name(node: Node) -> str | None:
    name = node.child_by_field_name("name")
    if name is not None:
        return _variable_name(name)
    infix = child_of_type(node, "infix")  # `a <+> b = ...`
    return _variable_name(infix.child_by_field_name("operator")) if infix is not None else None


def _instance_name(node: Node) -> str | None:
    """``instance ToJSON a => ToJSON [a] where`` -> ``ToJSON [a]``."""
    head = f"{node_text(node.child_by_field_name('name'))} "
    head += node_text(node.child_by_field_name("patterns"))
    return " ".join(head.split()) or None


HASKELL = Grammar(
    {
        "haskell": DESCEND,
        "declarations": DESCEND,
        "signature": leaf(ChunkKind.FUNCTION, _signature_name),
        "default_signature": leaf(ChunkKind.FUNCTION, _signature_name),
        "foreign_import": leaf(ChunkKind.FUNCTION, _signature_name),
        "function": leaf(ChunkKind.FUNCTION, _equation_name),
        "bind": leaf(ChunkKind.FUNCTION, _equation_name),
        "data_type": leaf(ChunkKind.TYPE),
        "newtype": leaf(ChunkKind.TYPE),
        "type_synonym": leaf(ChunkKind.TYPE),
        "type_family": leaf(ChunkKind.TYPE),
        "data_family": leaf(ChunkKind.TYPE),
        "class": container(ChunkKind.TRAIT, body=_declarations),
        "instance": container(ChunkKind.TYPE, _instance_name, _declarations),
    },
    node_types("comment", "haddock", "pragma"),
    merge_clauses=True,
)
