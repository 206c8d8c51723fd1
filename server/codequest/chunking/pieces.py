"""Cut a file into pieces of about ``budget`` characters, where its syntax tree allows.

A piece is a range of whole lines. With a tree, the cut follows it: a node that fits the
budget stays whole, consecutive small siblings share a piece, and a node too large for one
is cut among its children, recursively (the way semble chunks code). Without a tree (a
language with no grammar, a minified file) lines are packed up to the budget.

Why pieces of a few hundred characters rather than whole definitions: the teacher reads
at most 256 tokens of a chunk, so a long function is embedded from its first screen only,
and a result should point at the place in the code, not at a 200-line function.

Every function here is iterative: a deeply nested tree costs a deep stack of our own, never
Python recursion.
"""

from __future__ import annotations

from collections.abc import Sequence

from codequest.chunking.grammars.base import Node

Span = tuple[int, int]  # 0-based rows, inclusive


def _rows(node: Node) -> Span:
    """The rows a node occupies (a node that ends at column 0 ends on the row before)."""
    start, end = node.start_point.row, node.end_point.row
    if node.end_point.column == 0 and end > start:
        end -= 1
    return start, end


def node_spans(root: Node, budget: int) -> list[Span]:
    """Row spans that follow the tree, each holding at most ``budget`` bytes of nodes where
    a node can be cut that small. Spans are in document order and may share a row."""
    out: list[Span] = []
    stack: list[Node | Span] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            out.append(item)
            continue
        if item.child_count == 0 or item.end_byte - item.start_byte <= budget:
            out.append(_rows(item))
            continue
        stack.extend(reversed(_groups(item.children, budget)))
    return out


def _groups(children: Sequence[Node], budget: int) -> list[Node | Span]:
    """Children in order: a child too large stays a node (to be cut further), runs of
    small ones become one span while their sizes add up to the budget."""
    groups: list[Node | Span] = []
    i = 0
    while i < len(children):
        child = children[i]
        i += 1
        size = child.end_byte - child.start_byte
        if size > budget:
            groups.append(child)
            continue
        start, end = _rows(child)
        while i < len(children):
            nxt = children[i]
            nxt_size = nxt.end_byte - nxt.start_byte
            if size + nxt_size > budget:
                break
            end = max(end, _rows(nxt)[1])
            size += nxt_size
            i += 1
        groups.append((start, end))
    return groups


def pack(spans: list[Span], line_lengths: Sequence[int], budget: int) -> list[Span]:
    """Disjoint pieces that cover every row: ``spans`` made disjoint (a shared row goes to
    the earlier span), each gap (comments, blank lines) given to the span after it, then
    neighbours merged while the merged piece stays within ``budget`` characters."""
    total = len(line_lengths)
    if total == 0:
        return []
    disjoint: list[Span] = []
    for start, end in sorted(spans):
        if disjoint and start <= disjoint[-1][1]:
            if end <= disjoint[-1][1]:
                continue
            start = disjoint[-1][1] + 1
        disjoint.append((start, min(end, total - 1)))
    covering: list[Span] = []
    cursor = 0
    for _, end in disjoint:
        if end >= cursor:
            covering.append((cursor, end))
            cursor = end + 1
    if cursor < total:
        if covering:
            covering[-1] = (covering[-1][0], total - 1)
        else:
            covering.append((0, total - 1))
    # Characters before each row (a newline counted after each line), for piece sizes.
    before = [0]
    for length in line_lengths:
        before.append(before[-1] + length + 1)
    merged: list[Span] = []
    for start, end in covering:
        if merged and before[end + 1] - before[merged[-1][0]] - 1 <= budget:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def line_pieces(line_lengths: Sequence[int], budget: int) -> list[Span]:
    """Consecutive lines packed up to ``budget`` characters (for text without a tree)."""
    return pack([(row, row) for row in range(len(line_lengths))], line_lengths, budget)
