"""Scala 2 and 3: classes (case classes too), objects, traits, enums and givens hold
``def``s; packages do not prefix names (as in Java).

``extension (s: String) { def shout }`` adds its members to the type: ``String.shout``, the
way Rust's ``impl`` and Swift's ``extension`` do. An anonymous ``given Ord[Int]`` is named
by its type, ``Ord``. A ``val`` holding an anonymous class (``implicit val monad: Monad[F]
= new Monad[F] { ... }``, how cats writes its instances) is a class. A munit or ScalaTest
``test("name") { ... }`` is a function named by its description.
"""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Node,
    child_of_type,
    container,
    field_name,
    leaf,
    named_test,
    node_text,
    node_types,
    scope,
    type_name,
)
from codequest.types import ChunkKind


def _given_name(node: Node) -> str | None:
    return field_name(node) or type_name(node.child_by_field_name("return_type")) or None


def _extension_name(node: Node) -> str | None:
    parameters = node.child_by_field_name("parameters")
    parameter = child_of_type(parameters, "parameter") if parameters is not None else None
    if parameter is None:
        return None
    return type_name(parameter.child_by_field_name("type")) or None


def _instance_body(node: Node) -> Node | None:
    """``val inst: Monad[F] = new Monad[F] { ... }``: the anonymous class's body."""
    value = node.child_by_field_name("value")
    if value is not None and value.type == "indented_block":
        value = child_of_type(value, "instance_expression")
    if value is None or value.type != "instance_expression":
        return None
    return child_of_type(value, "template_body")


def _instance_name(node: Node) -> str | None:
    if _instance_body(node) is None:
        return None
    return node_text(node.child_by_field_name("pattern")) or None


def _test_name(node: Node) -> str | None:
    """``test("parses flags") { ... }`` -> ``parses flags``; other calls are not chunks."""
    call = node.child_by_field_name("function")
    if call is None or call.type != "call_expression":
        return None
    if node_text(call.child_by_field_name("function")) != "test":
        return None
    arguments = call.child_by_field_name("arguments")
    first = next(iter(arguments.named_children), None) if arguments is not None else None
    if first is None or first.type != "string":
        return None
    return node_text(first).strip('"') or None


SCALA = Grammar(
    {
        "compilation_unit": DESCEND,
        # `package foo { ... }`: looked into, but no prefix.
        "package_clause": DESCEND,
        "template_body": DESCEND,
        "class_definition": container(ChunkKind.CLASS),
        "object_definition": container(ChunkKind.CLASS),
        "package_object": container(ChunkKind.CLASS),
        "trait_definition": container(ChunkKind.TRAIT),
        "enum_definition": container(ChunkKind.ENUM),
        "given_definition": container(ChunkKind.CLASS, _given_name),
        # Its definitions are its `body` fields, one per `def`.
        "extension_definition": scope(_extension_name, lambda node: node, typed=True),
        "function_definition": leaf(ChunkKind.FUNCTION),
        "function_declaration": leaf(ChunkKind.FUNCTION),
        "type_definition": leaf(ChunkKind.TYPE),
        # `implicit val monad: Monad[F] = new Monad[F] { ... }`: a class of its own.
        "val_definition": container(ChunkKind.CLASS, _instance_name, _instance_body),
        "call_expression": named_test(_test_name),
    },
    node_types("comment", "block_comment"),
)
