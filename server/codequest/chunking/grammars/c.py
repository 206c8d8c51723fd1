"""C and C++: functions (named through their declarator chain), structs, unions, classes and
enums with a body, ``typedef struct {...} Foo``; C++ namespaces prefix their members and an
out-of-line ``ns::Widget::draw`` gives the same symbol.
"""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Node,
    Role,
    Rule,
    container,
    leaf,
    node_text,
    qualified,
    scope,
)
from codequest.types import ChunkKind

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


C = Grammar(_C)
CPP = Grammar(_CPP)
