"""Go: methods are named after their receiver type (``Server.Serve``, the pointer stripped);
a ``type ( ... )`` group gives one chunk per type.
"""

from __future__ import annotations

from codequest.chunking.grammars.base import (
    DESCEND,
    Grammar,
    Node,
    Role,
    Rule,
    field_name,
    leaf,
    type_base_name,
)
from codequest.types import ChunkKind


def _go_receiver_name(node: Node) -> str | None:
    receiver = node.child_by_field_name("receiver")
    method = field_name(node) or ""
    param = next(iter(receiver.named_children), None) if receiver is not None else None
    owner = type_base_name(param.child_by_field_name("type")) if param is not None else ""
    return f"{owner}.{method}" if owner else method


def _go_type_kind(node: Node) -> str | None:
    kind = node.child_by_field_name("type")
    if kind is not None and kind.type == "struct_type":
        return ChunkKind.STRUCT
    if kind is not None and kind.type == "interface_type":
        return ChunkKind.INTERFACE
    return ChunkKind.TYPE


_GO: dict[str, Rule] = {
    "source_file": DESCEND,
    "function_declaration": leaf(ChunkKind.FUNCTION),
    "method_declaration": leaf(ChunkKind.METHOD, _go_receiver_name),
    # `type X struct{}` starts at `type`; a `type ( ... )` group gives one chunk per spec.
    "type_declaration": Rule(Role.WRAP),
    "type_spec": leaf(_go_type_kind),
    "type_alias": leaf(ChunkKind.TYPE),
}


GO = Grammar(_GO)
