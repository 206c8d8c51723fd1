"""``workspace/executeCommand``: ``codequest.reindex`` and ``codequest.status``.

``codequest.reindex [folderUri]`` queues an index run of one folder (or of all) and returns
at once with ``{queued: [uri, ...]}``; progress is reported as for the start-up run. The
run is incremental, so it costs little when nothing changed. ``codequest.status`` returns
``{folders: [{uri, state, indexedFiles, totalFiles, chunks, model, queryEncoder,
problem}]}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codequest.lsp.protocol import invalid_params, show

if TYPE_CHECKING:
    from codequest.lsp.indexing import FolderIndex
    from codequest.lsp.server import CodeQuestServer

REINDEX = "codequest.reindex"
STATUS = "codequest.status"


def reindex(ls: CodeQuestServer, args: tuple[Any, ...]) -> dict[str, Any]:
    if len(args) > 1:
        raise invalid_params(f"{REINDEX} takes at most one folder URI, got {len(args)} arguments")
    target = args[0] if args else None
    if target is None:
        uris = list(ls.folders)
    else:
        if not isinstance(target, str):
            raise invalid_params(f"{REINDEX} takes a folder URI string, got {show(target)}")
        folder = ls.find_folder(target)
        if folder is None:
            raise invalid_params(f"{target!r} is not an open workspace folder")
        uris = [folder.uri]
    ls.indexer.start()
    ls.indexer.request(uris)
    return {"queued": uris}


def folder_status(ls: CodeQuestServer, folder: FolderIndex) -> dict[str, Any]:
    ws = folder.workspace
    status = folder.status
    encoder = ls.query_encoder
    return {
        "uri": folder.uri,
        "state": status.state,
        "indexedFiles": status.indexed_files,
        "totalFiles": status.total_files,
        "chunks": len(ws.store.chunks) if ws is not None else 0,
        "model": ws.model_identity if ws is not None else ls.config.model,
        "queryEncoder": encoder.describe() if encoder is not None else "",
        "problem": folder.problem or (status.message if status.state == "error" else ""),
    }


def register(server: CodeQuestServer) -> None:
    # pygls resolves a command's annotations at call time (to convert its arguments), and
    # CodeQuestServer is only imported for type checking here: ``ls`` stays unannotated.
    @server.command(REINDEX)
    def reindex_command(ls, *args: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        return reindex(ls, args)

    @server.command(STATUS)
    @server.thread()
    def status_command(ls, *args: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        return {"folders": [folder_status(ls, f) for f in ls.folders.values()]}
