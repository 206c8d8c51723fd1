"""Split a source file into chunks: definitions from tree-sitter, line windows for the rest.

``chunk_source`` parses files in the grammar languages (``supported_languages()``: those
with a wheel in ``languages.GRAMMAR_WHEELS``) and emits one chunk per function, method,
class and type-like definition, with qualified symbols. Code between definitions (imports,
module-level statements, scripts) becomes overlapping line windows, and so does every file
in a language without a grammar. The rule tables of the first nine languages are here; the
others' are in ``codequest.grammars``, one module each, which also documents each
language's conventions.

Conventions:

- Symbols are qualified with ``.`` in every language: ``Class.method``,
  ``Outer.Inner.method``, ``Receiver.Method`` (Go, pointer stripped), ``Type.method``
  (Rust ``impl Type`` and ``impl Trait for Type``, Swift and Scala extensions, Kotlin
  extension functions). Named scopes that are not types count too: a C++, C# or PHP
  namespace, a Rust ``mod`` and a TypeScript ``namespace`` prefix their members
  (``ns.Widget.draw``); an out-of-line C++ definition ``ns::Widget::draw`` gives the same
  symbol. Packages (Java, Kotlin, Scala) do not. Template arguments are dropped. Anonymous
  scopes add nothing.
- Lines are the source split on ``"\\n"`` only, the way tree-sitter counts rows; a chunk's
  ``text`` is its lines joined with ``"\\n"``, cut at ``MAX_CHUNK_CHARS`` characters (the
  line range is kept), so a minified file cannot make chunks of unbounded size.
- A definition starts at its first decorator, annotation or ``export``/``template`` prefix
  and takes along the comments (and Rust attributes) directly above it, so doc comments are
  searched with the code they describe.
- Classes of at most ``small_class_lines`` lines are one chunk. Larger ones give a class
  chunk from the header to the line before the first member, plus one chunk per member.
- Tests written as calls (``it "parses flags" do``, ``test("x") {}``, bats ``@test``) are
  functions named by their description; ``describe`` blocks name a scope around them.
- In Haskell and Elixir, consecutive definitions of one name (a signature and its
  equations, a function's clauses) are one chunk.
- Definitions longer than ``max_chunk_lines`` are cut into overlapping windows that keep
  the definition's kind and symbol.

The tree is walked with an explicit stack, never Python recursion, and only nodes that can
hold definitions are visited: function bodies are never entered, so the cost is the parse
plus a walk over the top levels. Definitions inside more than ``MAX_NESTING`` scopes and
split classes are left to the windows.
"""

from __future__ import annotations

import importlib
import itertools
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache

import tree_sitter

from .discovery.languages import GRAMMAR_WHEELS
from .grammars import GRAMMARS
from .grammars.base import (
    DESCEND,
    Grammar,
    Node,
    Role,
    Rule,
    body_field,
    container,
    field_name,
    leaf,
    node_text,
    node_types,
    qualified,
    scope,
)
from .text import content_hash
from .types import Chunk, ChunkKind

__all__ = ["MAX_CHUNK_CHARS", "chunk_source", "content_hash", "supported_languages"]

# A chunk's text is truncated to this many characters (its line range is not).
MAX_CHUNK_CHARS = 20_000
# A short file with a line longer than MAX_CHUNK_CHARS is minified: definitions that share one
# huge line cannot be told apart in the text anyway, so it gets plain windows. A file with at
# least this many lines is ordinary code with a long constant in it, and is still parsed.
MINIFIED_MAX_LINES = 20
# Gaps between definitions with fewer non-blank lines than this are noise (a closing brace,
# a lone import) and are not worth a chunk of their own.
MIN_GAP_LINES = 3
# Definitions nested in more scopes and split classes than this are left to the windows:
# real code stays far below it, and it bounds the work on pathological nesting.
MAX_NESTING = 100


def supported_languages() -> frozenset[str]:
    """Languages whose files are split at definitions; all others get line windows."""
    return frozenset(_RULES)


# --------------------------------------------------------------------------- node helpers

_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
_RECORD_SPECIFIERS = {
    "struct_specifier": ChunkKind.STRUCT,
    "union_specifier": ChunkKind.STRUCT,
    "class_specifier": ChunkKind.CLASS,
    "enum_specifier": ChunkKind.ENUM,
}
# Declarator wrappers that sit between a C/C++ function definition and its name.
_NAME_NODES = frozenset(
    {
        "identifier",
        "field_identifier",
        "qualified_identifier",
        "destructor_name",
        "operator_name",
        "type_identifier",
        "template_function",
        "template_method",
    }
)


def _name_or_default(node: Node) -> str | None:
    """Named class/function expressions, and anonymous ones that are a default export."""
    name = field_name(node)
    if name is None and node.parent is not None and node.parent.type == "export_statement":
        return "default"
    return name


def _declarator_name(node: Node) -> str | None:
    """Follow a C/C++ declarator chain (pointers, parentheses, function) to the name."""
    current: Node | None = node.child_by_field_name("declarator")
    # Declarator chains are short; the bound only stops a pathological tree.
    for _ in range(64):
        if current is None:
            return None
        if current.type in _NAME_NODES:
            return qualified(node_text(current))
        inner = current.child_by_field_name("declarator")
        if inner is None:
            inner = next(iter(current.named_children), None)
        current = inner
    return None


def _c_function_name(node: Node) -> str | None:
    # A function whose name we cannot find (macro soup) is still worth a chunk.
    return _declarator_name(node) or ""


def _type_base_name(node: Node | None) -> str:
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


def _go_receiver_name(node: Node) -> str | None:
    receiver = node.child_by_field_name("receiver")
    method = field_name(node) or ""
    param = next(iter(receiver.named_children), None) if receiver is not None else None
    owner = _type_base_name(param.child_by_field_name("type")) if param is not None else ""
    return f"{owner}.{method}" if owner else method


def _go_type_kind(node: Node) -> str | None:
    kind = node.child_by_field_name("type")
    if kind is not None and kind.type == "struct_type":
        return ChunkKind.STRUCT
    if kind is not None and kind.type == "interface_type":
        return ChunkKind.INTERFACE
    return ChunkKind.TYPE


def _rust_impl_name(node: Node) -> str | None:
    return _type_base_name(node.child_by_field_name("type")) or None


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


def _record_specifier(node: Node) -> Node | None:
    """The struct/class/union/enum with a body that a C declaration or typedef defines."""
    spec = node.child_by_field_name("type")
    if spec is None or spec.type not in _RECORD_SPECIFIERS:
        return None
    return spec if spec.child_by_field_name("body") is not None else None


def _specifier_name(node: Node) -> str | None:
    if node.child_by_field_name("body") is None:
        return None  # a forward declaration or a use, not a definition
    return qualified(node_text(node.child_by_field_name("name"))) or None


def _specifier_kind(node: Node) -> str | None:
    return _RECORD_SPECIFIERS.get(node.type)


def _declared_record_name(node: Node) -> str | None:
    """``typedef struct {..} Foo;`` -> Foo; ``struct Foo {..} x;`` -> Foo."""
    spec = _record_specifier(node)
    if spec is None:
        return None
    return _specifier_name(spec) or _declarator_name(node) or None


def _declared_record_kind(node: Node) -> str | None:
    spec = _record_specifier(node)
    return _RECORD_SPECIFIERS[spec.type] if spec is not None else None


def _declared_record_body(node: Node) -> Node | None:
    spec = _record_specifier(node)
    if spec is None or spec.type == "enum_specifier":
        return None
    return spec.child_by_field_name("body")


# --------------------------------------------------------------------------- rule tables


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

_GO: dict[str, Rule] = {
    "source_file": DESCEND,
    "function_declaration": leaf(ChunkKind.FUNCTION),
    "method_declaration": leaf(ChunkKind.METHOD, _go_receiver_name),
    # `type X struct{}` starts at `type`; a `type ( ... )` group gives one chunk per spec.
    "type_declaration": Rule(Role.WRAP),
    "type_spec": leaf(_go_type_kind),
    "type_alias": leaf(ChunkKind.TYPE),
}

_RUST: dict[str, Rule] = {
    "source_file": DESCEND,
    "declaration_list": DESCEND,
    "function_item": leaf(ChunkKind.FUNCTION),
    "struct_item": leaf(ChunkKind.STRUCT),
    "union_item": leaf(ChunkKind.STRUCT),
    "enum_item": leaf(ChunkKind.ENUM),
    "type_item": leaf(ChunkKind.TYPE),
    "macro_definition": leaf(ChunkKind.FUNCTION),
    "trait_item": container(ChunkKind.TRAIT),
    "impl_item": scope(_rust_impl_name, typed=True),
    "mod_item": scope(),
}

_JAVA: dict[str, Rule] = {
    "program": DESCEND,
    "enum_body_declarations": DESCEND,
    "class_declaration": container(ChunkKind.CLASS),
    "record_declaration": container(ChunkKind.CLASS),
    "interface_declaration": container(ChunkKind.INTERFACE),
    "enum_declaration": container(ChunkKind.ENUM),
    "annotation_type_declaration": leaf(ChunkKind.INTERFACE),
    "method_declaration": leaf(ChunkKind.METHOD),
    "constructor_declaration": leaf(ChunkKind.METHOD),
    "compact_constructor_declaration": leaf(ChunkKind.METHOD),
}

_C: dict[str, Rule] = {
    "translation_unit": DESCEND,
    **dict.fromkeys(
        ["preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef"],
        DESCEND,
    ),
    "function_definition": leaf(ChunkKind.FUNCTION, _c_function_name),
    "struct_specifier": container(_specifier_kind, _specifier_name),
    "union_specifier": container(_specifier_kind, _specifier_name),
    "enum_specifier": leaf(_specifier_kind, _specifier_name),
    # `typedef struct {...} Foo;` and `struct Foo {...} foo;` define the record they hold.
    "type_definition": container(
        _declared_record_kind, _declared_record_name, _declared_record_body
    ),
    "declaration": container(_declared_record_kind, _declared_record_name, _declared_record_body),
}
# A record nested in a struct body: `struct Inner { ... } inner;`.
_C["field_declaration"] = _C["declaration"]

_CPP: dict[str, Rule] = {
    **_C,
    "linkage_specification": DESCEND,  # extern "C" { ... }
    "declaration_list": DESCEND,
    "namespace_definition": scope(),
    "template_declaration": Rule(Role.WRAP),
    "class_specifier": container(_specifier_kind, _specifier_name),
}

# Comments (and Rust attributes, TypeScript member decorators, which are siblings in the
# tree) directly above a definition belong to its chunk.
_SCRIPT_LEADING = node_types("comment", "decorator")
_GRAMMAR_RULES: dict[str, Grammar] = {
    "python": Grammar(_PYTHON),
    "javascript": Grammar(_JAVASCRIPT, _SCRIPT_LEADING),
    "typescript": Grammar(_TYPESCRIPT, _SCRIPT_LEADING),
    "tsx": Grammar(_TYPESCRIPT, _SCRIPT_LEADING),
    "go": Grammar(_GO),
    "rust": Grammar(_RUST, node_types("line_comment", "block_comment", "attribute_item")),
    "java": Grammar(_JAVA, node_types("line_comment", "block_comment")),
    "c": Grammar(_C),
    "cpp": Grammar(_CPP),
    **GRAMMARS,
}
# Error recovery wraps whatever it could not fit into ERROR nodes; definitions that did
# parse can sit inside, so they are looked through like any other block.
_RULES: dict[str, dict[str, Rule]] = {
    language: {**grammar.rules, "ERROR": DESCEND} for language, grammar in _GRAMMAR_RULES.items()
}


# --------------------------------------------------------------------------- parsing


@cache
def _language(language: str) -> tree_sitter.Language:
    module_name, function = GRAMMAR_WHEELS[language]
    module = importlib.import_module(module_name)
    return tree_sitter.Language(getattr(module, function)())


_local = threading.local()


def _parser(language: str) -> tree_sitter.Parser:
    """One parser per thread and language: parsers are not safe to share across threads."""
    parsers: dict[str, tree_sitter.Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(language)
    if parser is None:
        parser = parsers[language] = tree_sitter.Parser(_language(language))
    return parser


# --------------------------------------------------------------------------- the walk


@dataclass(slots=True)
class _Definition:
    start: int  # 0-based rows, inclusive
    end: int
    kind: str
    symbol: str
    parent: int  # index of the enclosing split class in the definition list, or -1

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


class _Walker:
    """Finds the definitions of one tree with an explicit stack (deep trees are fine)."""

    def __init__(self, grammar: Grammar, rules: Mapping[str, Rule], source: bytes, small: int):
        self.rules, self.leading = rules, grammar.leading
        self.merge_clauses = grammar.merge_clauses
        self.source, self.small_class_lines = source, small
        self.stack: list[_Item] = []
        self.found: list[_Definition] = []

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

    def run(self, root: Node) -> list[_Definition]:
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
        self.found.append(_Definition(start, end, kind, symbol, context.parent))
        large = end - start + 1 > self.small_class_lines
        if body is not None and large and context.depth < MAX_NESTING:
            self.push_children(body, context.enter(name, True, len(self.found) - 1), None)


def _trim_headers(found: list[_Definition]) -> None:
    """A split class's own chunk runs from its header to the line before its first member."""
    first_member: dict[int, int] = {}
    for definition in found:
        if definition.parent >= 0:
            known = first_member.get(definition.parent, definition.start)
            first_member[definition.parent] = min(known, definition.start)
    for index, member_start in first_member.items():
        header = found[index]
        header.end = max(header.start, min(header.end, member_start - 1))


# --------------------------------------------------------------------------- lines and windows


def _windows(start: int, end: int, size: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Overlapping ranges of ``size`` lines that cover ``start..end`` (inclusive)."""
    step = size - overlap
    for first in range(start, end + 1, step):
        last = min(first + size - 1, end)
        yield first, last
        if last == end:
            return


def _is_blank(line: str) -> bool:
    return not line or line.isspace()


def _gaps(length: int, covered: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Row ranges (0-based, inclusive) of ``0..length-1`` that no definition covers."""
    cursor = 0
    for start, end in sorted(covered):
        if start > cursor:
            yield cursor, start - 1
        cursor = max(cursor, end + 1)
    if cursor < length:
        yield cursor, length - 1


def _trimmed(lines: list[str], start: int, end: int, min_lines: int) -> tuple[int, int] | None:
    """``start..end`` without blank edge lines; None with fewer than ``min_lines`` of code."""
    content = [row for row in range(start, end + 1) if not _is_blank(lines[row])]
    if not content or len(content) < min_lines:
        return None
    return content[0], content[-1]


class _Emitter:
    """Builds chunks from 0-based row ranges of one file."""

    def __init__(
        self, path: str, language: str, source: str, lines: list[str], size: int, overlap: int
    ):
        self.path, self.language, self.source, self.lines = path, language, source, lines
        self.size, self.overlap = size, overlap
        # Characters before each line, newlines excluded: row r starts at offsets[r] + r.
        self.offsets = list(itertools.accumulate(map(len, lines), initial=0))
        self.chunks: dict[tuple[int, int, str, str], Chunk] = {}

    def text(self, start: int, end: int) -> str:
        """Lines ``start..end`` joined with newlines, cut at ``MAX_CHUNK_CHARS``.

        A slice of the source is exactly those lines joined; bounding the slice makes a
        range of huge lines cost O(cap), not O(file).
        """
        first = self.offsets[start] + start
        last = self.offsets[end + 1] + end
        return self.source[first : min(last, first + MAX_CHUNK_CHARS)]

    def emit(self, start: int, end: int, kind: str, symbol: str) -> None:
        text = self.text(start, end)
        if _is_blank(text):
            return
        key = (start + 1, end + 1, kind, symbol)
        self.chunks[key] = Chunk(
            path=self.path,
            language=self.language,
            kind=kind,
            symbol=symbol,
            start_line=start + 1,
            end_line=end + 1,
            text=text,
            content_hash=content_hash(self.language, kind, symbol, text),
        )

    def emit_windows(self, start: int, end: int, kind: str, symbol: str) -> None:
        for first, last in _windows(start, end, self.size, self.overlap):
            self.emit(first, last, kind, symbol)

    def sorted(self) -> list[Chunk]:
        return [self.chunks[key] for key in sorted(self.chunks)]


# --------------------------------------------------------------------------- entry point


def chunk_source(
    path: str,
    language: str,
    text: str,
    *,
    max_chunk_lines: int = 150,
    window_lines: int = 60,
    window_overlap: int = 15,
    small_class_lines: int = 40,
) -> list[Chunk]:
    """Split one file into chunks sorted by ``(start_line, end_line)``.

    Files in ``supported_languages()`` are split at definitions, the code between them goes
    into windows; other languages, and minified files (fewer than ``MINIFIED_MAX_LINES``
    lines, one of them longer than ``MAX_CHUNK_CHARS``), are windows only. Whitespace-only
    files give ``[]``.
    """
    if window_lines < 1 or not 0 <= window_overlap < window_lines:
        raise ValueError(
            f"need window_lines >= 1 and 0 <= window_overlap < window_lines, "
            f"got window_lines={window_lines}, window_overlap={window_overlap}"
        )
    if max_chunk_lines < 1:
        raise ValueError(f"max_chunk_lines must be >= 1, got {max_chunk_lines}")
    if _is_blank(text):
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another
    emitter = _Emitter(path, language, text, lines, window_lines, window_overlap)

    definitions: list[_Definition] = []
    minified = len(lines) < MINIFIED_MAX_LINES and max(map(len, lines)) > MAX_CHUNK_CHARS
    if language in _RULES and not minified:
        source = text.encode("utf-8", "replace")
        tree = _parser(language).parse(source)
        grammar = _GRAMMAR_RULES[language]
        walker = _Walker(grammar, _RULES[language], source, small_class_lines)
        definitions = walker.run(tree.root_node)
        _trim_headers(definitions)

    for definition in definitions:
        end = min(definition.end, len(lines) - 1)
        if end - definition.start + 1 > max_chunk_lines:
            emitter.emit_windows(definition.start, end, definition.kind, definition.symbol)
        else:
            emitter.emit(definition.start, end, definition.kind, definition.symbol)

    # A file without definitions is all windows, however short: it must stay searchable.
    min_lines = MIN_GAP_LINES if definitions else 1
    covered = [(d.start, d.end) for d in definitions]
    for gap_start, gap_end in _gaps(len(lines), covered):
        trimmed = _trimmed(lines, gap_start, gap_end, min_lines)
        if trimmed is not None:
            emitter.emit_windows(trimmed[0], trimmed[1], ChunkKind.WINDOW, "")
    return emitter.sorted()
