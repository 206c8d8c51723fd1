"""Servers of their own: indexing in the background, cancelling, staying current, settings.

``index_delay`` starts a server whose index runs are slowed down (seconds per file,
``slow_server.py``) so a test can talk to it while it indexes, without racing a fast
machine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from lsp_helpers import (
    ALPHA,
    BETA,
    Client,
    eventually,
    hashing_options,
    make_project,
    search,
    start,
    status,
    stop,
    vscode_capabilities,
    wait_logged,
    wait_ready,
    write_tree,
)
from lsprotocol import types

pytestmark = pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning")

SLOW = 0.015  # seconds a file: 240 files take 3.6 s a run


def handlers(count: int) -> dict[str, str]:
    """Files of two chunks each, so the engine stores a batch every 128 files."""
    body = (
        "def handler_{0:04d}(request):\n    return request.value + {0}\n\n\n"
        "class Model{0:04d}:\n    size = {0}\n"
    )
    return {f"pkg/handler_{i:04d}.py": body.format(i) for i in range(count)}


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., Any]]:
    """``await clients(folders, options, ...)`` starts a server; all are stopped at the end."""
    started: list[Client] = []

    async def make(*args: Any, **kwargs: Any) -> Client:
        client = await start(*args, **kwargs)
        started.append(client)
        return client

    yield make
    for client in started:
        await stop(client)


def names(reply: dict[str, Any]) -> list[str]:
    return [r["name"] for r in reply["results"]]


def runs_of(client: Client, folder: str) -> int:
    """Index runs of a folder that reported work-done progress (their begin names it)."""
    return sum(
        1
        for values in client.progress_reports.values()
        if values and f"indexing {folder}" in getattr(values[0], "title", "")
    )


async def test_search_while_indexing_then_cancel_then_reindex(
    tmp_path: Path, clients: Callable[..., Any]
):
    root = write_tree(tmp_path / "big project", handlers(240))
    client = await clients({"big": root}, hashing_options(tmp_path / "cache"), index_delay=SLOW)

    async def indexed_at_least(count: int) -> bool:
        return any(
            s["state"] == "indexing" and s["indexedFiles"] >= count for s in client.index_statuses
        )

    # A search during the run is answered at once, from what is stored so far.
    await eventually(lambda: indexed_at_least(1), what="indexing to start")
    reply = await search(client, {"query": "handler request value", "limit": 5})
    assert reply["index"]["state"] == "indexing"  # answered during the run, not after it
    assert 0 < reply["index"]["indexedFiles"] < 240 and reply["index"]["totalFiles"] == 240
    assert 0 <= reply["index"]["percent"] < 100

    # Once a batch is stored, its results come back while the rest is still being indexed.
    await eventually(lambda: indexed_at_least(130), what="130 files to be indexed")
    reply = await search(client, {"query": "handler_0007", "limit": 5})
    assert reply["index"]["state"] == "indexing"
    assert names(reply)[0] == "handler_0007"

    # The client cancels the run through its progress token.
    (token,) = client.progress_reports
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))

    async def ended() -> Any:
        values = client.progress_reports[token]
        return values[-1] if isinstance(values[-1], types.WorkDoneProgressEnd) else None

    end = await eventually(ended, what="the cancelled run to end")
    assert "cancelled" in (end.message or "")
    folder = (await status(client))["folders"][0]
    assert folder["state"] == "idle" and 128 <= folder["indexedFiles"] < 240
    assert client.index_statuses[-1]["state"] == "idle"
    assert "cancelled" in client.index_statuses[-1]["message"]
    assert names(await search(client, {"query": "handler_0007", "limit": 1})) == ["handler_0007"]

    # codequest.reindex finishes the job, with a progress of its own.
    reply = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codequest.reindex", arguments=[root.as_uri()])
    )
    assert reply == {"queued": [root.as_uri()]}
    assert (await wait_ready(client))["folders"][0]["indexedFiles"] == 240
    assert len(client.progress_reports) == 2
    reply = await search(client, {"query": "handler_0239", "limit": 1})
    assert reply["index"]["state"] == "ready" and names(reply) == ["handler_0239"]


async def test_changes_saves_and_deletes_keep_results_current(
    tmp_path: Path, clients: Callable[..., Any]
):
    folders = make_project(tmp_path)
    # The index lives inside each folder here: its own writes must not trigger runs.
    client = await clients(folders, {"model": "hashing", "cacheDir": ".cq"})
    await wait_ready(client)
    alpha = folders[ALPHA]

    alpha_runs = runs_of(client, ALPHA)
    meta = alpha / ".cq" / "meta.msgpack"
    assert meta.is_file()
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(uri=meta.as_uri(), type=types.FileChangeType.Changed),
                types.FileEvent(uri=(alpha / "a.csv").as_uri(), type=types.FileChangeType.Created),
            ]
        )
    )
    # A real change in the other folder, reported after those: its run is queued after any
    # run they had scheduled (the same debounce; runs go in request order), so once it has
    # ended, a run of alpha would have begun before it.
    barrier = folders[BETA] / "lib" / "barrier.py"
    barrier.write_text("def barrier_after_the_ignored_events():\n    return 0\n")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=barrier.as_uri(), type=types.FileChangeType.Created)]
        )
    )
    await wait_logged(client, f"CodeQuest: indexed {BETA}:", count=2)
    assert runs_of(client, BETA) == 2 and runs_of(client, ALPHA) == alpha_runs

    # A new file, reported by the file watcher.
    new = alpha / "app" / "retry.py"
    new.write_text("def retry_with_jitter(fn, attempts):\n    return fn()\n", encoding="utf-8")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=new.as_uri(), type=types.FileChangeType.Created)]
        )
    )

    async def found(query: str, name: str) -> bool:
        return name in names(await search(client, {"query": query, "limit": 3}))

    await eventually(lambda: found("retry_with_jitter", "retry_with_jitter"), what="new file")

    # An edit, reported by didSave.
    new.write_text("def retry_forever(fn):\n    return fn()\n", encoding="utf-8")
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=new.as_uri())
        )
    )
    await eventually(lambda: found("retry_forever", "retry_forever"), what="saved edit")
    assert "retry_with_jitter" not in names(await search(client, {"query": "retry_with_jitter"}))

    # A deletion leaves the results at once: the very next request no longer sees it.
    go_file = folders[BETA] / "cmd" / "hash.go"
    assert "HashPassword" in names(await search(client, {"query": "HashPassword"}))
    go_file.unlink()
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=go_file.as_uri(), type=types.FileChangeType.Deleted)]
        )
    )
    reply = await search(client, {"query": "HashPassword", "limit": 20})
    assert not any(r["uri"].endswith("/hash.go") for r in reply["results"])
    symbols = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="HashPassword"))
    assert not any(s.name == "HashPassword" for s in symbols or [])

    # Deleting a folder removes every file under it; a run then persists the removals.
    runs = len(client.progress_reports)
    for name in ("email.js", "currency.ts"):
        (alpha / "web" / name).unlink()
    (alpha / "web").rmdir()
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(uri=(alpha / "web").as_uri(), type=types.FileChangeType.Deleted)
            ]
        )
    )
    assert "formatCurrency" not in names(await search(client, {"query": "formatCurrency"}))

    async def settled() -> bool:
        reply = await status(client)
        return len(client.progress_reports) > runs and all(
            f["state"] == "ready" for f in reply["folders"]
        )

    await eventually(settled, what="the re-index after the deletions")
    counts = {f["uri"]: f["indexedFiles"] for f in (await status(client))["folders"]}
    assert counts == {alpha.as_uri(): 3, folders[BETA].as_uri(): 2}  # naïve_parse, barrier


async def test_invalid_settings_are_shown_and_defaults_used(
    tmp_path: Path, clients: Callable[..., Any]
):
    folders = make_project(tmp_path)
    options = hashing_options(tmp_path / "cache", maxResults="lots", device="tpu", colour=1)
    client = await clients(folders, options)
    await wait_ready(client)
    (warning,) = [m for m in client.messages if m.type == types.MessageType.Warning]
    assert "maxResults must be an integer" in warning.message and "'lots'" in warning.message
    assert "device must be one of" in warning.message
    assert "unknown setting 'colour'" in warning.message
    reply = await search(client, {"query": "parse"})
    assert reply["results"]  # still works, with the default maxResults

    # A bad value in a later change: shown, and the server keeps working.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"codequest": {"maxResults": -3}})
    )

    async def warned_twice() -> bool:
        return len([m for m in client.messages if m.type == types.MessageType.Warning]) == 2

    await eventually(warned_twice, what="a warning about maxResults")
    assert "maxResults must be an integer in [1, 1000], got -3" in client.messages[-1].message
    assert (await search(client, {"query": "parse"}))["results"]

    # A model that cannot be found: each folder is in error, said so, and search still answers.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"codequest": {"model": "no-such/model"}})
    )

    async def failed() -> list[dict[str, Any]] | None:
        folders_status = (await status(client))["folders"]
        return folders_status if all(f["state"] == "error" for f in folders_status) else None

    for folder in await eventually(failed, what="the folders to fail"):
        assert "no-such/model" in folder["problem"]
    errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
    assert any("cannot index alpha proj" in m and "no-such/model" in m for m in errors)
    reply = await search(client, {"query": "parse"})
    assert reply["index"]["state"] == "error" and "no-such/model" in reply["index"]["message"]


async def test_setting_changes_apply_and_exclude_reindexes(
    tmp_path: Path, clients: Callable[..., Any]
):
    folders = make_project(tmp_path)
    client = await clients(folders, hashing_options(tmp_path / "cache"))
    await wait_ready(client)
    assert len(names(await search(client, {"query": "parse"}))) > 2

    # maxResults needs no re-index: it applies to the next search.
    runs = len(client.progress_reports)
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"codequest": {"maxResults": 2}})
    )

    async def capped(count: int) -> bool:
        return len(names(await search(client, {"query": "parse"}))) == count

    await eventually(lambda: capped(2), what="maxResults to apply")

    # A notification without settings: the server pulls them (workspace/configuration).
    client.set_configuration({"maxResults": 1}, section="codequest")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await eventually(lambda: capped(1), what="the pulled maxResults to apply")
    assert len(client.progress_reports) == runs

    # exclude: the folders are re-indexed without the excluded files.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"codequest": {"exclude": ["web/"]}})
    )

    async def excluded() -> bool:
        by_uri = {f["uri"]: f for f in (await status(client))["folders"]}
        alpha = by_uri[folders[ALPHA].as_uri()]
        return alpha["state"] == "ready" and alpha["indexedFiles"] == 2

    await eventually(excluded, what="the re-index without web/")
    assert len(client.progress_reports) > runs
    assert "formatCurrency" not in names(await search(client, {"query": "formatCurrency"}))

    # Workspace folders come and go.
    gamma = write_tree(tmp_path / "gamma", {"src/lib.rs": "pub fn gamma_ray() -> u8 {\n    7\n}\n"})
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[types.WorkspaceFolder(uri=gamma.as_uri(), name="gamma")],
                removed=[types.WorkspaceFolder(uri=folders[BETA].as_uri(), name=BETA)],
            )
        )
    )
    await eventually(lambda: found_in(client, "gamma_ray", gamma), what="the added folder")
    reply = await status(client)
    assert [f["uri"] for f in reply["folders"]] == [folders[ALPHA].as_uri(), gamma.as_uri()]
    beta = folders[BETA].as_uri() + "/"
    reply = await search(client, {"query": "parse"})
    assert reply["results"] and not any(r["uri"].startswith(beta) for r in reply["results"])


async def found_in(client: Client, name: str, folder: Path) -> bool:
    reply = await search(client, {"query": name, "limit": 1})
    return bool(reply["results"]) and reply["results"][0]["uri"].startswith(folder.as_uri() + "/")


async def test_restart_reuses_the_index_and_logs_without_progress_support(tmp_path: Path):
    folders = make_project(tmp_path)
    options = hashing_options(tmp_path / "cache")
    client = await start(folders, options)
    await wait_ready(client)
    await stop(client)
    assert client._server is not None and client._server.returncode == 0  # shutdown, exit

    # Again, from a client without work-done progress: log messages instead.
    no_progress = vscode_capabilities(progress=False)
    client = await start(
        folders, options, capabilities=no_progress, index_delay=0.2
    )  # 6 files, 1.2 s
    try:
        # Right away, before the run is done: answered from the index the first server stored.
        reply = await search(client, {"query": "HashPassword", "limit": 1})
        assert names(reply) == ["HashPassword"] and reply["index"]["state"] != "ready"
        await wait_ready(client)
        assert client.progress_reports == {}
        logged = [m.message for m in client.log_messages]
        assert any("CodeQuest: indexing béta é" in m for m in logged)
        # The stored index was loaded before the run, and nothing had to be embedded again.
        assert client.index_statuses[0]["indexedFiles"] > 0
        indexed = await wait_logged(client, "CodeQuest: indexed ", count=2)
        assert len(indexed) == 2 and all(", 0 embedded," in m for m in indexed)
    finally:
        await stop(client)
    assert client._server is not None and client._server.returncode == 0


@pytest.mark.parametrize(("offered", "units"), [("utf-8", "utf-8"), ("utf-32", "utf-32")])
async def test_ranges_count_in_the_position_encoding_the_client_negotiated(
    tmp_path: Path, clients: Callable[..., Any], offered: str, units: str
):
    folders = make_project(tmp_path)
    capabilities = vscode_capabilities()
    capabilities.general = types.GeneralClientCapabilities(
        position_encodings=[types.PositionEncodingKind(offered), types.PositionEncodingKind.Utf16]
    )
    client = await clients(folders, hashing_options(tmp_path / "cache"), capabilities=capabilities)
    assert client.initialize_result is not None
    assert client.initialize_result.capabilities.position_encoding == offered
    await wait_ready(client)
    reply = await search(client, {"query": "celebrate_release", "limit": 3})
    hit = next(r for r in reply["results"] if r["name"] == "celebrate_release")
    lines = (folders[BETA] / "lib" / "naïve_parse.py").read_text(encoding="utf-8").split("\n")
    last = next(i for i, line in enumerate(lines) if "🎉" in line)
    # The emoji is 4 UTF-8 bytes and 1 code point (2 UTF-16 units, what VS Code counts).
    expected = len(lines[last].encode("utf-8")) if units == "utf-8" else len(lines[last])
    assert hit["range"]["end"] == {"line": last, "character": expected}
