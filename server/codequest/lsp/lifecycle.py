"""The lifecycle of a session: ``initialize``, ``initialized``, ``shutdown``, settings that
change, folders added and removed, and a cancelled index run.

``initialize`` reads the settings (``initializationOptions``) and the folders;
``initialized`` starts the query encoder's load, the indexing thread and the file
watchers. Settings sent later with ``workspace/didChangeConfiguration`` are applied on top
of the first ones (or pulled with ``workspace/configuration`` when the notification carries
none).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls import uris

from codequest.lsp.config import SECTION, parse_settings

if TYPE_CHECKING:
    from codequest.lsp.server import CodeQuestServer


def _folders_from(params: types.InitializeParams) -> list[tuple[str, str]]:
    if params.workspace_folders:
        return [(f.uri, f.name) for f in params.workspace_folders]
    if params.root_uri:
        return [(params.root_uri, "")]
    if params.root_path:
        return [(uris.from_fs_path(params.root_path) or params.root_path, "")]
    return []


async def _changed_settings(ls: CodeQuestServer, settings: Any) -> tuple[bool, Any]:
    """The settings a ``didChangeConfiguration`` carries (its ``codequest`` section, or all
    of it), else pulled with ``workspace/configuration`` (LSP 3.6+); (False, None) when
    there is nothing to apply."""
    if isinstance(settings, Mapping) and SECTION in settings:
        return True, settings[SECTION]
    if isinstance(settings, Mapping) and settings:
        return True, settings
    if not ls.client_supports("workspace.configuration"):
        return False, None
    reply = await ls.workspace_configuration_async(
        types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
    )
    raw = reply[0] if reply else None
    return raw is not None, raw


def register(server: CodeQuestServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: CodeQuestServer, params: types.InitializeParams) -> None:
        ls.loop = asyncio.get_running_loop()
        ls._loop_thread = threading.get_ident()
        ls.base_config, ls.setting_problems = parse_settings(params.initialization_options)
        ls.config = ls.base_config
        ls.add_folders(_folders_from(params))

    @server.feature(types.INITIALIZED)
    async def initialized(ls: CodeQuestServer, params: types.InitializedParams) -> None:
        if ls.setting_problems:
            ls.show(
                "CodeQuest settings: " + "; ".join(ls.setting_problems), types.MessageType.Warning
            )
        if not ls.folders:
            ls.log("CodeQuest: no workspace folder is open; nothing to index")
        ls.ensure_query_encoder()
        ls.indexer.start()
        ls.indexer.request(list(ls.folders))
        await ls.watcher.register()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: CodeQuestServer, params: None) -> None:
        ls.watcher.close()
        await asyncio.get_running_loop().run_in_executor(None, ls.indexer.stop)
        ls.embedder.close()  # an embedding worker still running is killed

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: CodeQuestServer, params: types.DidChangeConfigurationParams
    ) -> None:
        found, raw = await _changed_settings(ls, params.settings)
        if found:
            ls.apply_settings(raw)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(
        ls: CodeQuestServer, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        ls.remove_folders([f.uri for f in params.event.removed])
        added = ls.add_folders([(f.uri, f.name) for f in params.event.added])
        for uri in added:  # load stored indexes now, not after the run in progress
            ls.thread_pool.submit(ls.open_folder, ls.folders[uri])
        ls.indexer.request(added)

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def cancel_progress(ls: CodeQuestServer, params: types.WorkDoneProgressCancelParams) -> None:
        cancel = ls.progress_cancels.get(params.token)
        if cancel is not None:
            ls.log("CodeQuest: indexing cancelled by the user")
            cancel.set()
