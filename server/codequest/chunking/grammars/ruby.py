"""Ruby: modules and classes hold methods; ``Outer::Klass#method`` is ``Outer.Klass.method``.

``class << self`` and ActiveSupport's ``class_methods do`` add no name: their methods are
class methods, ``Klass.method``, as are ``def self.method`` ones. A module is a container
like a class (kind ``module``). Tests are functions named by their description: minitest's
and RSpec's ``test``/``it``/``specify "..." do``; ``describe``/``context`` blocks name a
scope (``Rack.Lint.passes valid request``).
"""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Node,
    Rule,
    child_of_type,
    container,
    field_name,
    leaf,
    named_test,
    node_text,
    qualified,
    scope,
    select,
)
from codequest.types import ChunkKind


def _constant_name(node: Node) -> str | None:
    return qualified(field_name(node) or "")


def _block_body(node: Node) -> Node | None:
    block = node.child_by_field_name("block")
    return block.child_by_field_name("body") if block is not None else None


def _first_argument(node: Node) -> Node | None:
    arguments = node.child_by_field_name("arguments")
    return next(iter(arguments.named_children), None) if arguments is not None else None


def _description(node: Node) -> str | None:
    """``it "parses flags" do`` -> ``parses flags``; ``describe Rack::Lint`` -> ``Rack.Lint``."""
    argument = _first_argument(node)
    if argument is None:
        return None
    if argument.type == "string":
        content = child_of_type(argument, "string_content")
        return node_text(content) or None
    if argument.type in ("constant", "scope_resolution"):
        return qualified(node_text(argument))
    return None


_TEST = named_test(_description)
_GROUP = scope(_description, _block_body)
_CLASS_METHODS = scope(lambda _: None, _block_body, typed=True)
_CALLS: dict[str, Rule] = {
    "test": _TEST,
    "it": _TEST,
    "specify": _TEST,
    "describe": _GROUP,
    "context": _GROUP,
    "class_methods": _CLASS_METHODS,
}


def _call_rule(node: Node) -> Rule | None:
    """Only a bare call with a block can be a test, a test group or ``class_methods``."""
    if node.child_by_field_name("receiver") is not None or _block_body(node) is None:
        return None
    return _CALLS.get(node_text(node.child_by_field_name("method")))


RUBY = Grammar(
    {
        "program": DESCEND,
        # `begin ... end` and `if defined?(X)` at the top level.
        "begin": DESCEND,
        "if": DESCEND,
        "unless": DESCEND,
        "then": DESCEND,
        "else": DESCEND,
        "module": container(ChunkKind.MODULE, _constant_name),
        "class": container(ChunkKind.CLASS, _constant_name),
        "singleton_class": scope(lambda _: None, typed=True),
        "method": leaf(ChunkKind.FUNCTION),
        "singleton_method": leaf(ChunkKind.FUNCTION),
        "call": select(_call_rule),
    }
)
