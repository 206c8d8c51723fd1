"""Shell (bash, sh, zsh, bats): function definitions, also those inside an ``if`` or a
top-level ``{ ... }`` (``if [[ -n $DEBUG ]]; then trace() { ...; }; fi``).

A bats ``@test "name" {`` is not shell syntax: the grammar sees a command, the body's
commands, and a ``}`` command. The test is a function named by its description, from its
``@test`` line to that ``}``.
"""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Node,
    Rule,
    leaf,
    named_test,
    node_text,
    select,
)
from codequest.types import ChunkKind

# Siblings looked at for a test's closing `}`: bounds the cost of a test that never closes.
_MAX_TEST_STATEMENTS = 2_000


def _is_bats_test(node: Node) -> bool:
    return node_text(node.child_by_field_name("name")) == "@test"


def _test_name(node: Node) -> str | None:
    arguments = node.children_by_field_name("argument")
    return node_text(arguments[0]).strip("\"'") if arguments else ""


def _test_end(node: Node) -> Node | None:
    """The ``}`` command that closes a bats test; None when another test comes first."""
    sibling = node.next_named_sibling
    for _ in range(_MAX_TEST_STATEMENTS):
        if sibling is None or (sibling.type == "command" and _is_bats_test(sibling)):
            return None
        if sibling.type == "command" and node_text(sibling).strip() == "}":
            return sibling
        sibling = sibling.next_named_sibling
    return None


_TEST = named_test(_test_name, _test_end)


def _command_rule(node: Node) -> Rule | None:
    return _TEST if _is_bats_test(node) else None


SHELL = Grammar(
    {
        "program": DESCEND,
        "compound_statement": DESCEND,
        "if_statement": DESCEND,
        "elif_clause": DESCEND,
        "else_clause": DESCEND,
        "function_definition": leaf(ChunkKind.FUNCTION),
        "command": select(_command_rule),
    }
)
