"""``codequest/search``: semantic code search over the open folders.

Params ``{query, limit?, filters?: {glob?, languages?, excludeTests?}, workspaceFolder?,
explain?}``; result ``{results: [{uri, range, selectionRange, name, kind, language, score,
preview, explain?}], index: {state, indexedFiles, totalFiles, percent, message?}}``.
``range`` is the chunk; ``selectionRange`` is where the cursor goes, the start of the line
of the definition the result is named after (as in LSP's ``DocumentSymbol``).

The request runs on the thread that reads stdin when nothing can make it wait
(:mod:`codequest.lsp.inline`), else in a pool thread; it never waits for indexing, and
never runs on the event loop. It searches whatever is stored so far and says, in
``index``, how far indexing has got. Results from several folders are merged by score.
Ranges are LSP ranges (:mod:`codequest.lsp.ranges`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codequest.discovery.languages import ALL_LANGUAGES
from codequest.errors import CodeQuestError
from codequest.lsp.errors import rpc_error
from codequest.lsp.protocol import PlainResult, invalid_params, show
from codequest.lsp.ranges import folder_range, position_encoding
from codequest.types import SearchFilters, SearchResult

if TYPE_CHECKING:
    from codequest.lsp.indexing import FolderIndex
    from codequest.lsp.server import CodeQuestServer

log = logging.getLogger(__name__)

SEARCH = "codequest/search"
MAX_LIMIT = 1000
# A search that arrives while a folder's stored index is still loading (at start-up) waits
# this long for it; it never waits for indexing.
OPEN_WAIT = 10.0


@dataclass(frozen=True, slots=True)
class SearchRequest:
    query: str
    limit: int | None
    filters: SearchFilters
    folder: str | None
    explain: bool


def parse_params(params: Any) -> SearchRequest:
    """Validate ``codequest/search`` params; raises InvalidParams saying what is wrong."""
    if not isinstance(params, dict):
        raise invalid_params(f"params must be an object, got {show(params)}")
    query = params.get("query")
    if not isinstance(query, str):
        raise invalid_params(f"query must be a string, got {show(query)}")
    limit = params.get("limit")
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT
    ):
        raise invalid_params(f"limit must be an integer from 1 to {MAX_LIMIT}, got {show(limit)}")
    folder = params.get("workspaceFolder")
    if folder is not None and not isinstance(folder, str):
        raise invalid_params(f"workspaceFolder must be a URI string, got {show(folder)}")
    explain = params.get("explain", False)
    if explain is None:
        explain = False
    if not isinstance(explain, bool):
        raise invalid_params(f"explain must be true or false, got {show(explain)}")
    return SearchRequest(query, limit, parse_filters(params.get("filters")), folder, explain)


def parse_filters(raw: Any) -> SearchFilters:
    if raw is None:
        return SearchFilters()
    if not isinstance(raw, dict):
        raise invalid_params(f"filters must be an object, got {show(raw)}")
    glob = raw.get("glob")
    if glob is not None and not isinstance(glob, str):
        raise invalid_params(f"filters.glob must be a string, got {show(glob)}")
    languages = raw.get("languages") or []
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        raise invalid_params(
            f"filters.languages must be a list of strings, got {show(raw.get('languages'))}"
        )
    unknown = [x for x in languages if x not in ALL_LANGUAGES]
    if unknown:
        raise invalid_params(
            f"filters.languages has unknown language {unknown[0]!r}; "
            f"known: {', '.join(sorted(ALL_LANGUAGES))}"
        )
    exclude_tests = raw.get("excludeTests", False)
    if exclude_tests is None:
        exclude_tests = False
    if not isinstance(exclude_tests, bool):
        raise invalid_params(
            f"filters.excludeTests must be true or false, got {show(exclude_tests)}"
        )
    return SearchFilters(glob=glob or None, languages=tuple(languages), exclude_tests=exclude_tests)


def result_json(folder: FolderIndex, result: SearchResult, encoding: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "uri": folder.file_uri(result.path),
        "range": folder_range(
            folder, result.path, result.start_line, result.end_line, encoding, result.end_units
        ),
        "selectionRange": _line_start(result.line or result.start_line),
        "name": result.symbol,
        "kind": result.kind,
        "language": result.language,
        "score": round(result.score, 6),
        "preview": result.preview,
    }
    if result.explain:
        out["explain"] = {k: round(v, 6) for k, v in result.explain.items()}
    return out


def _line_start(line: int) -> dict[str, Any]:
    """An empty LSP range at the start of a 1-based line (column 0 in every encoding)."""
    position = {"line": line - 1, "character": 0}
    return {"start": position, "end": dict(position)}


# -- the request -------------------------------------------------------------------------
def run_search(ls: CodeQuestServer, request: SearchRequest) -> dict[str, Any]:
    if request.folder is not None:
        folder = ls.find_folder(request.folder)
        if folder is None:
            raise invalid_params(
                f"workspaceFolder {request.folder!r} is not an open workspace folder"
            )
        folders = [folder]
    else:
        folders = list(ls.folders.values())
    ls.watcher.settle()  # files deleted before this request must not show up in it
    limit = request.limit or ls.config.max_results
    found: list[tuple[FolderIndex, SearchResult]] = []
    for folder in folders:
        ws = folder.wait_opened(OPEN_WAIT)
        if ws is None:
            continue
        try:
            hits = ws.search(
                request.query, limit=limit, filters=request.filters, explain=request.explain
            )
        except CodeQuestError as err:
            mapped = rpc_error(err)
            if mapped is None:
                raise
            raise mapped from err
        found.extend((folder, hit) for hit in hits)
    found.sort(key=lambda item: -item[1].score)
    encoding = position_encoding(ls)
    return PlainResult(
        results=[result_json(folder, hit, encoding) for folder, hit in found[:limit]],
        index=ls.index_status(folders).to_json(),
    )


def register(server: CodeQuestServer) -> None:
    @server.feature(SEARCH)
    @server.thread()
    def search(ls: CodeQuestServer, params: Any) -> dict[str, Any]:
        return run_search(ls, parse_params(params))
