"""``workspace/symbol``: definitions by name, then by meaning.

Name matches come first: exact names (case-sensitive before case-insensitive; types before
functions before methods), then names that start with the query, shortest first. A name
matches on its last part (``parse`` finds ``Config.parse``) and on the qualified name.
Semantic matches for the query follow, so "read settings" still finds ``load_config``.
Windows (chunks that are not definitions) have no name and are left out.

The name table is built from the definitions the store's chunks hold (``defines``: a chunk
can hold several small ones, and a long definition's later chunks name it without
defining it) and rebuilt when the store changes, at most once a second while an index run
keeps changing it.
"""

from __future__ import annotations

import bisect
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsprotocol import types

from codequest.errors import EncoderError
from codequest.index.records import ChunkRecord
from codequest.index.view import StoreView
from codequest.lsp.ranges import folder_range, position_encoding
from codequest.lsp.search import OPEN_WAIT
from codequest.types import TYPE_KINDS, ChunkKind, DefinedName, SearchResult

if TYPE_CHECKING:
    from codequest.lsp.indexing import FolderIndex
    from codequest.lsp.server import CodeQuestServer

log = logging.getLogger(__name__)

MAX_SYMBOLS = 100
SEMANTIC_RESULTS = 20
REBUILD_AFTER = 1.0  # seconds a stale table may be used while the store keeps changing

# The LSP kind of each definition kind (windows have no name and are never symbols).
SYMBOL_KINDS: dict[str, types.SymbolKind] = {
    ChunkKind.FUNCTION: types.SymbolKind.Function,
    ChunkKind.METHOD: types.SymbolKind.Method,
    ChunkKind.CLASS: types.SymbolKind.Class,
    ChunkKind.INTERFACE: types.SymbolKind.Interface,
    ChunkKind.STRUCT: types.SymbolKind.Struct,
    ChunkKind.ENUM: types.SymbolKind.Enum,
    ChunkKind.TRAIT: types.SymbolKind.Interface,
    ChunkKind.TYPE: types.SymbolKind.TypeParameter,
    ChunkKind.MODULE: types.SymbolKind.Module,
}
# Order among equally good name matches: types, then functions, then methods.
_KIND_RANK: dict[str, int] = {
    **dict.fromkeys(TYPE_KINDS, 0),
    ChunkKind.FUNCTION: 1,
    ChunkKind.METHOD: 2,
}


def symbol_kind(kind: str, supported: set[int] | None = None) -> types.SymbolKind:
    """The LSP kind for a chunk kind, within what the client says it supports."""
    value = SYMBOL_KINDS.get(kind, types.SymbolKind.Variable)
    if supported and value not in supported:
        # An older client: fall back to kinds from the LSP 3.0 set, which every client knows.
        return types.SymbolKind.Class if _KIND_RANK.get(kind) == 0 else types.SymbolKind.Function
    return value


# A name in the table: the chunk that holds a definition, and the definition.
Named = tuple[ChunkRecord, DefinedName]


@dataclass(frozen=True, slots=True)
class NameTable:
    """Lower-cased names (last part and qualified) in sorted order, with the definitions
    (``ChunkRecord.defined_names``) they name."""

    store: StoreView
    version: int
    built_at: float
    keys: list[str]
    names: list[Named]

    @classmethod
    def build(cls, store: StoreView) -> NameTable:
        version, everything = store.records()
        pairs: list[tuple[str, Named]] = []
        for record in everything:
            for defined in record.defined_names:
                short = last_part(defined.symbol).lower()
                pairs.append((short, (record, defined)))
                if defined.symbol.lower() != short:
                    pairs.append((defined.symbol.lower(), (record, defined)))
        pairs.sort(key=lambda pair: (pair[0], pair[1][0].path, pair[1][1].line))
        return cls(store, version, time.monotonic(), [k for k, _ in pairs], [n for _, n in pairs])

    def fresh_for(self, store: StoreView) -> bool:
        return self.store is store and (
            self.version == store.version or time.monotonic() - self.built_at < REBUILD_AFTER
        )

    def matches(self, query: str) -> list[tuple[tuple[int, int, int, str], Named]]:
        """Definitions whose name equals or starts with ``query``, each with its sort key."""
        lowered = query.lower()
        out: dict[tuple[int, str], tuple[tuple[int, int, int, str], Named]] = {}
        start = bisect.bisect_left(self.keys, lowered)
        for i in range(start, len(self.keys)):
            key = self.keys[i]
            if not key.startswith(lowered):
                break
            record, defined = self.names[i]
            if query in (last_part(defined.symbol), defined.symbol):
                grade = 0
            elif key == lowered:
                grade = 1
            else:
                grade = 2
            rank = (grade, _KIND_RANK.get(defined.kind, 3), len(key), record.path)
            ident = (record.id, defined.symbol)
            if ident not in out or rank < out[ident][0]:
                out[ident] = (rank, (record, defined))
        return list(out.values())


def last_part(symbol: str) -> str:
    return symbol.rsplit(".", 1)[-1]


def name_table(folder: FolderIndex, store: StoreView) -> NameTable:
    table = folder.name_table
    if table is None or not table.fresh_for(store):
        table = NameTable.build(store)
        folder.name_table = table
    return table


def to_symbol(
    folder: FolderIndex,
    record_path: str,
    symbol: str,
    kind: str,
    start: int,
    end: int,
    encoding: str,
    supported: set[int] | None,
    end_units: tuple[int, int, int] | None = None,
) -> types.SymbolInformation:
    rng = folder_range(folder, record_path, start, end, encoding, end_units)
    qualifier = symbol.rsplit(".", 1)[0] if "." in symbol else ""
    return types.SymbolInformation(
        name=last_part(symbol),
        kind=symbol_kind(kind, supported),
        container_name=qualifier or None,
        location=types.Location(
            uri=folder.file_uri(record_path),
            range=types.Range(
                start=types.Position(**rng["start"]), end=types.Position(**rng["end"])
            ),
        ),
    )


def workspace_symbols(ls: CodeQuestServer, query: str) -> list[types.SymbolInformation]:
    query = query.strip()
    if not query:
        return []
    ls.watcher.settle()
    encoding = position_encoding(ls)
    value_set = ls.client_capabilities.workspace and ls.client_capabilities.workspace.symbol
    kinds = value_set.symbol_kind if value_set else None
    supported = {int(k) for k in kinds.value_set} if kinds and kinds.value_set else None

    # Name matches from every folder, best first.
    named: list[tuple[tuple[int, int, int, str], FolderIndex, Named]] = []
    folders = [f for f in ls.folders.values() if f.wait_opened(OPEN_WAIT) is not None]
    for folder in folders:
        assert folder.workspace is not None
        table = name_table(folder, folder.workspace.store)
        named.extend((rank, folder, name) for rank, name in table.matches(query))
    named.sort(key=lambda item: item[0])
    seen: set[tuple[str, str, int]] = set()
    out: list[types.SymbolInformation] = []
    for _, folder, (r, defined) in named[:MAX_SYMBOLS]:
        seen.add((folder.uri, r.path, r.start_line))
        # The definition's own lines; the stored end-line length serves when the
        # definition ends where its chunk does, else the file is read for it.
        out.append(
            to_symbol(
                folder,
                r.path,
                defined.symbol,
                defined.kind,
                defined.line,
                max(defined.line, defined.end),
                encoding,
                supported,
                r.end_units if defined.end == r.end_line else None,
            )
        )

    # Then what the query means, from the semantic search.
    semantic: list[tuple[float, FolderIndex, SearchResult]] = []
    for folder in folders:
        assert folder.workspace is not None
        try:
            hits = folder.workspace.search(query, limit=SEMANTIC_RESULTS)
        except EncoderError as err:  # no query encoder: name matches are still useful
            log.warning("workspace/symbol: semantic matches unavailable: %s", err)
            continue
        semantic.extend((hit.score, folder, hit) for hit in hits if hit.symbol)
    semantic.sort(key=lambda item: -item[0])
    for _, folder, hit in semantic:
        if len(out) >= MAX_SYMBOLS:
            break
        key = (folder.uri, hit.path, hit.start_line)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            to_symbol(
                folder,
                hit.path,
                hit.symbol,
                hit.kind,
                hit.start_line,
                hit.end_line,
                encoding,
                supported,
                hit.end_units,
            )
        )
    return out


def register(server: CodeQuestServer) -> None:
    @server.feature(types.WORKSPACE_SYMBOL)
    @server.thread()
    def workspace_symbol(
        ls: CodeQuestServer, params: types.WorkspaceSymbolParams
    ) -> list[types.SymbolInformation]:
        return workspace_symbols(ls, params.query)
