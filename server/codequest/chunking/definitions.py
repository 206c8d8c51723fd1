"""Finding the definitions in a parsed tree: the walk every language shares.

The tree is walked with an explicit stack, never Python recursion, and only nodes that can
hold definitions are visited: function bodies are never entered, so the cost is the parse
plus a walk over the top levels. Definitions inside more than :data:`MAX_NESTING` scopes
and split classes are left to the windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from codequest.chunking.grammars.base import Grammar, Node, Role, Rule, body_field
from codequest.types import ChunkKind

# Definitions nested in more scopes and split classes than this are left to the windows:
# real code stays far below it, and it bounds the work on pathological nesting.
MAX_NESTING = 100


@dataclass(slots=True)
class Definition:
    start: int  # 0-based rows, inclusive
    end: int
    kind: str
    symbol: str
    parent: int  # index of the enclosing split class in the definition list, or -1
    # The row of the definition itself (its `def`/`class` line), below the comments,
    # decorators and annotations that ``start`` takes along.
    head: int = -1

    def same(self, symbol: str, kind: str, parent: int) -> bool:
        return (self.symbol, self.kind, self.parent) == (symbol, kind, parent)


# A scope is a linked list (name, outer) so that deep nesting costs O(1) per level.
_Scope = tuple[str, "_Scope"] | None
_SPACE = frozenset(b" \t\r\n\f\v")


@dataclass(frozen=True, slots=True)
class _Context:
    """Where a node sits: its scope, whether that is a type, the split class around it (an
    index into the definitions, or -1), and how many scopes and split classes enclose it."""

    scope: _Scope = None
    in_type: bool = False
    parent: int = -1
    depth: int = 0

    def enter(self, name: str | None, typed: bool, parent: int | None = None) -> _Context:
        scope = (name, self.scope) if name else self.scope
        up = self.parent if parent is None else parent
        return _Context(scope, self.in_type or typed, up, self.depth + 1)


# Stack entries: a node, its rule, its context, and the outermost wrapper around it.
_Item = tuple[Node, Rule, _Context, "Node | None"]


def _join(scope: _Scope, name: str) -> str:
    parts = [name]
    while scope is not None:
        parts.append(scope[0])
        scope = scope[1]
    return ".".join(reversed(parts))


def _before(node: Node) -> Node | None:
    """The node right before ``node``: its previous sibling or, for a first child that
    starts where its parent does (a body), the parent's."""
    prev = node.prev_named_sibling
    while prev is None:
        parent = node.parent
        if parent is None or parent.start_byte != node.start_byte:
            return None
        node, prev = parent, parent.prev_named_sibling
    return prev


class DefinitionWalker:
    """Finds the definitions of one tree with an explicit stack (deep trees are fine)."""

    def __init__(self, grammar: Grammar, rules: Mapping[str, Rule], source: bytes, small: int):
        self.rules, self.leading = rules, grammar.leading
        self.merge_clauses = grammar.merge_clauses
        self.source, self.small_class_lines = source, small
        self.stack: list[_Item] = []
        self.found: list[Definition] = []

    def end_row(self, node: Node) -> int:
        """Last row a node really occupies: trailing whitespace, which some grammars keep
        in a node (Scala's indented blocks, a final newline), does not count."""
        end, row, source = node.end_byte, node.end_point.row, self.source
        while end > node.start_byte and source[end - 1] in _SPACE:
            end -= 1
            row -= source[end] == 0x0A
        return max(row, node.start_point.row)

    def blank(self, start: int, end: int) -> bool:
        """Whether source bytes ``start..end`` are (a short run of) whitespace."""
        return end - start <= 256 and all(byte in _SPACE for byte in self.source[start:end])

    def leading_before(self, node: Node) -> Node | None:
        """The node before ``node``, or the leading node (a comment) that ends it: a
        grammar may keep the comment above a definition in the list of imports before."""
        prev = _before(node)
        last = prev
        # Bounded: a pathological tree must not cost more than a few steps per definition.
        for _ in range(8):
            if last is None or self.leading(last):
                return last
            child = last.named_children[-1] if last.named_child_count else None
            if child is None or not self.blank(child.end_byte, last.end_byte):
                break
            last = child
        return prev

    def leading_start(self, node: Node) -> int:
        """Row where a definition starts once the comments right above it are included."""
        start = node.start_point.row
        prev = self.leading_before(node)
        while prev is not None and self.leading(prev) and self.end_row(prev) >= start - 1:
            # Anonymous nodes count here: `x = 1;  // trailing` ends with a `;`.
            before = prev.prev_sibling or _before(prev)
            if before is not None and self.end_row(before) >= prev.start_point.row:
                break  # a trailing comment of the code before, not a header of ours
            start = prev.start_point.row
            prev = self.leading_before(prev)
        return start

    def rule(self, node: Node) -> Rule | None:
        rule = self.rules.get(node.type)
        while rule is not None and rule.select is not None:
            rule = rule.select(node)
        return rule

    def run(self, root: Node) -> list[Definition]:
        self.push_children(root, _Context(), None)
        while self.stack:
            node, rule, context, outer = self.stack.pop()
            if rule.role is Role.DESCEND:
                self.push_children(node, context, None)
            elif rule.role is Role.WRAP:
                self.push_children(node, context, outer or node)
            elif rule.role is Role.DEFINE:
                self.define(node, rule, context, outer)
            elif context.depth < MAX_NESTING:
                # A scope; past MAX_NESTING its definitions are left to the windows.
                body = (rule.body or body_field)(node)
                inner = context.enter(rule.name(node), rule.role is Role.TYPE_SCOPE)
                self.push_children(node if body is None else body, inner, None)
        return self.found

    def push_children(self, node: Node, context: _Context, outer: Node | None) -> None:
        # Named children only: keywords are nodes too, and `class` is also a rule's node type.
        items: list[_Item] = []
        current = context
        for child in node.named_children:
            rule = self.rule(child)
            if rule is None:
                continue
            if rule.role is Role.OPEN_SCOPE and (rule.body or body_field)(child) is None:
                # `namespace X;` names the scope of everything after it, up to the next one.
                current = context.enter(rule.name(child), False)
                continue
            items.append((child, rule, current, outer))
        if outer is not None and sum(item[1].role is Role.DEFINE for item in items) > 1:
            # A wrapper (decorators, export, template) lends its start to the one definition
            # it holds; a Go `type ( ... )` group holds several, each on its own lines.
            items = [(child, rule, ctx, None) for child, rule, ctx, _ in items]
        self.stack.extend(reversed(items))

    def define(self, node: Node, rule: Rule, context: _Context, outer: Node | None) -> None:
        name = rule.name(node)
        kind = rule.kind(node) if callable(rule.kind) else rule.kind
        if name is None or not kind:
            return  # e.g. `const x = 1`: the rule's node type, but not a definition
        # Inside a class, or qualified by one (`Widget::draw`, `Foo.prototype.bar`): a method.
        # A test is a function wherever it is.
        if kind == ChunkKind.FUNCTION and not rule.free_name and (context.in_type or "." in name):
            kind = ChunkKind.METHOD
        head = outer if outer is not None else node
        start = self.leading_start(head)
        end = max(self.end_row(head), self.end_row(node))
        tail = rule.last(node) if rule.last is not None else None
        if tail is not None:
            end = max(end, self.end_row(tail))
        symbol = _join(context.scope, name)
        last = self.found[-1] if self.merge_clauses and self.found else None
        if last is not None and last.same(symbol, kind, context.parent):
            last.end = max(last.end, end)  # one more clause of the function before
            return
        body = rule.body(node) if rule.body is not None else None
        # Small classes stay whole; large ones are split into a header and their members
        # (up to MAX_NESTING classes and scopes deep).
        self.found.append(
            Definition(start, end, kind, symbol, context.parent, node.start_point.row)
        )
        large = end - start + 1 > self.small_class_lines
        if body is not None and large and context.depth < MAX_NESTING:
            self.push_children(body, context.enter(name, True, len(self.found) - 1), None)


def trim_headers(found: list[Definition]) -> None:
    """A split class's own chunk runs from its header to the line before its first member."""
    first_member: dict[int, int] = {}
    for definition in found:
        if definition.parent >= 0:
            known = first_member.get(definition.parent, definition.start)
            first_member[definition.parent] = min(known, definition.start)
    for index, member_start in first_member.items():
        header = found[index]
        header.end = max(header.start, min(header.end, member_start - 1))
