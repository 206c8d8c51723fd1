"""One server on a two-folder project: start-up indexing, search, symbols, commands, errors.

These tests only read, so they share one server (module scope). Tests that change files
or settings start their own (``test_indexing.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsp_helpers import (
    ALPHA,
    BETA,
    SERVER_COMMAND,
    Client,
    make_client,
    make_project,
    request,
    search,
    status,
    vscode_capabilities,
    wait_logged,
    wait_ready,
)
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcMethodNotFound
from pytest_lsp import ClientServerConfig

from codequest.chunking import chunk_source
from codequest.discovery import detect_language

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_project(tmp_path_factory.mktemp("projects"))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=SERVER_COMMAND, client_factory=make_client),
    scope="module",
)
async def client(lsp_client: Client, folders: dict[str, Path]) -> AsyncIterator[None]:
    # Each folder keeps its index in its own cache folder (a relative cacheDir).
    lsp_client.initialize_result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=vscode_capabilities(),
            workspace_folders=[
                types.WorkspaceFolder(uri=path.as_uri(), name=name)
                for name, path in folders.items()
            ],
            initialization_options={"model": "hashing", "cacheDir": ".cq-index"},
        )
    )
    await wait_ready(lsp_client)
    yield
    await lsp_client.shutdown_session()


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def chunk_count(root: Path) -> int:
    """The chunks the chunker makes of a folder's indexed files (not its tests' CSV)."""
    total = 0
    for path in sorted(root.rglob("*")):
        language = detect_language(path.name) if path.is_file() else None
        if language is not None and ".cq-index" not in path.parts:
            total += len(chunk_source(path.name, language, path.read_text(encoding="utf-8")))
    return total


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def by_name(reply: dict[str, Any], name: str) -> dict[str, Any]:
    found = [r for r in reply["results"] if r["name"] == name]
    assert found, f"{name} not in {[r['name'] for r in reply['results']]}"
    return found[0]


# -- start-up ----------------------------------------------------------------------------
async def test_initialize_result(client: Client):
    result = client.initialize_result
    assert result is not None and result.server_info is not None
    assert result.server_info.name == "codequest"
    caps = result.capabilities
    assert caps.workspace_symbol_provider
    assert caps.execute_command_provider is not None
    assert set(caps.execute_command_provider.commands) == {"codequest.reindex", "codequest.status"}
    sync = caps.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions) and sync.save


async def test_startup_log_names_the_query_encoder(client: Client):
    (line,) = await wait_logged(client, "CodeQuest: query encoder ")
    assert line.startswith("CodeQuest: query encoder hashing-256-0 (loaded in ")
    (message,) = [m for m in client.log_messages if m.message == line]
    assert message.type == types.MessageType.Info


async def test_startup_indexing_reports_progress(client: Client, folders: dict[str, Path]):
    # One work-done progress per folder: created first, then begin, report(s), end.
    sequences = list(client.progress_reports.values())
    assert len(sequences) == 2, sequences
    for values in sequences:
        begin, *reports, end = values
        assert isinstance(begin, types.WorkDoneProgressBegin)
        assert begin.cancellable is True and begin.percentage == 0
        assert begin.title.startswith("CodeQuest: indexing ")
        assert reports and all(isinstance(r, types.WorkDoneProgressReport) for r in reports)
        assert reports[-1].percentage == 100
        assert reports[-1].message is not None and reports[-1].message.endswith(" files")
        assert " of " in reports[-1].message
        assert isinstance(end, types.WorkDoneProgressEnd)
        assert end.message is not None and "files" in end.message
    titles = sorted(v[0].title for v in sequences)
    assert titles == [f"CodeQuest: indexing {ALPHA}", f"CodeQuest: indexing {BETA}"]

    # codequest/indexStatus: indexing first, ready (100%) last.
    states = [s["state"] for s in client.index_statuses]
    assert "indexing" in states
    last = client.index_statuses[-1]
    assert last["state"] == "ready" and last["percent"] == 100
    assert last["indexedFiles"] == last["totalFiles"] == 6


async def test_file_watchers_registered(client: Client):
    (registration,) = client.registrations
    assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    watchers = registration.register_options["watchers"]  # type: ignore[index]
    assert [w["globPattern"] for w in watchers] == ["**/*"]


async def test_status_command(client: Client, folders: dict[str, Path]):
    reply = await status(client)
    by_uri = {f["uri"]: f for f in reply["folders"]}
    alpha = by_uri[folders[ALPHA].as_uri()]
    assert alpha == {
        "uri": folders[ALPHA].as_uri(),
        "state": "ready",
        "indexedFiles": 4,
        "totalFiles": 4,
        "chunks": chunk_count(folders[ALPHA]),
        "model": "hashing-256-0",
        "queryEncoder": "hashing-256-0",
        "problem": "",
    }
    assert (folders[ALPHA] / ".cq-index" / "meta.msgpack").is_file()


# -- codequest/search ----------------------------------------------------------------------
async def test_search_results_uris_and_ranges(client: Client, folders: dict[str, Path]):
    reply = await search(client, {"query": "HashPassword salt sha256 digest", "limit": 5})
    assert reply["index"] == {"state": "ready", "indexedFiles": 6, "totalFiles": 6, "percent": 100}
    top = reply["results"][0]
    path = folders[BETA] / "cmd" / "hash.go"
    assert top["uri"] == path.as_uri()
    assert top["uri"].startswith("file:///") and "b%C3%A9ta%20%C3%A9/cmd/hash.go" in top["uri"]
    assert top["name"] == "HashPassword"
    assert (top["kind"], top["language"]) == ("function", "go")
    lines = lines_of(path)
    end = next(i for i, line in enumerate(lines) if line == "}")
    # The small file is one chunk, from its first line; the preview is the function's line.
    assert top["range"]["start"] == {"line": 0, "character": 0}
    assert top["range"]["end"] == {"line": end, "character": 1}
    # The cursor goes to the function's own line.
    func = next(i for i, line in enumerate(lines) if line.startswith("func HashPassword("))
    assert func > 0
    assert top["selectionRange"] == {
        "start": {"line": func, "character": 0},
        "end": {"line": func, "character": 0},
    }
    assert top["preview"].startswith("func HashPassword(")
    assert isinstance(top["score"], float)
    assert "explain" not in top


async def test_range_end_counts_utf16_units(client: Client, folders: dict[str, Path]):
    reply = await search(client, {"query": "celebrate_release", "limit": 3})
    hit = by_name(reply, "celebrate_release")
    path = folders[BETA] / "lib" / "naïve_parse.py"
    assert hit["uri"] == path.as_uri() and "na%C3%AFve_parse.py" in hit["uri"]
    lines = lines_of(path)
    last = next(i for i, line in enumerate(lines) if "🎉" in line)
    # The emoji is two UTF-16 code units; VS Code counts positions in UTF-16.
    assert hit["range"]["end"] == {"line": last, "character": utf16_len(lines[last])}
    assert utf16_len(lines[last]) == len(lines[last]) + 1


async def test_search_merges_folders_by_score(client: Client, folders: dict[str, Path]):
    reply = await search(client, {"query": "parse", "limit": 20})
    uris = [r["uri"] for r in reply["results"]]
    assert any(u.startswith(folders[ALPHA].as_uri() + "/") for u in uris)
    assert any(u.startswith(folders[BETA].as_uri() + "/") for u in uris)
    scores = [r["score"] for r in reply["results"]]
    assert scores == sorted(scores, reverse=True)


async def test_search_one_folder_filters_and_explain(client: Client, folders: dict[str, Path]):
    alpha = folders[ALPHA].as_uri()
    reply = await search(client, {"query": "parse", "workspaceFolder": alpha, "limit": 20})
    assert reply["results"] and all(r["uri"].startswith(alpha + "/") for r in reply["results"])
    assert reply["index"]["indexedFiles"] == 4

    reply = await search(client, {"query": "parse", "filters": {"languages": ["javascript"]}})
    assert {r["language"] for r in reply["results"]} == {"javascript"}

    reply = await search(client, {"query": "parse config", "filters": {"excludeTests": True}})
    assert reply["results"] and not any("/tests/" in r["uri"] for r in reply["results"])

    reply = await search(client, {"query": "currency", "filters": {"glob": "web/*.ts"}})
    assert [r["name"] for r in reply["results"]] == ["formatCurrency"]

    reply = await search(client, {"query": "format currency", "explain": True, "limit": 1})
    assert set(reply["results"][0]["explain"]) >= {"dense"}


async def test_empty_query_returns_no_results(client: Client):
    reply = await search(client, {"query": "   "})
    assert reply["results"] == [] and reply["index"]["state"] == "ready"


# -- workspace/symbol --------------------------------------------------------------------
async def test_workspace_symbol_exact_then_prefix_then_semantic(
    client: Client, folders: dict[str, Path]
):
    symbols = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="parse"))
    assert symbols is not None
    names = [(s.name, s.container_name) for s in symbols]
    # The exact name first, then names starting with it (shortest first).
    assert names[0] == ("parse", None)
    assert [n for n, _ in names[1:3]] == ["parse_duration", "parseEmailAddress"]
    first = symbols[0]
    assert isinstance(first, types.SymbolInformation)
    assert first.kind == types.SymbolKind.Function
    path = folders[ALPHA] / "app" / "config_loader.py"
    assert first.location.uri == path.as_uri()
    lines = lines_of(path)
    line = next(i for i, text in enumerate(lines) if text.startswith("def parse("))
    assert first.location.range.start == types.Position(line=line, character=0)
    assert first.location.range.end == types.Position(line=line + 1, character=len(lines[line + 1]))


async def test_workspace_symbol_kinds(client: Client):
    symbols = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="ConfigLoader"))
    assert symbols is not None
    assert (symbols[0].name, symbols[0].kind) == ("ConfigLoader", types.SymbolKind.Class)
    symbols = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="hashpassword"))
    assert symbols is not None
    assert (symbols[0].name, symbols[0].kind) == ("HashPassword", types.SymbolKind.Function)


async def test_workspace_symbol_semantic_matches(client: Client):
    # No name starts with "digest", but the Go function is about one.
    symbols = await client.workspace_symbol_async(
        types.WorkspaceSymbolParams(query="digest password salt")
    )
    assert symbols is not None and symbols[0].name == "HashPassword"


# -- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query": 42}, "query must be a string, got 42"),
        ([1, 2], "params must be an object, got [1, 2]"),
        (None, "params must be an object, got null"),
        ({"query": "x", "limit": "ten"}, 'limit must be an integer from 1 to 1000, got "ten"'),
        ({"query": "x", "limit": 0}, "limit must be an integer from 1 to 1000, got 0"),
        ({"query": "x", "filters": []}, "filters must be an object, got []"),
        ({"query": "x", "filters": {"languages": "go"}}, "filters.languages must be a list"),
        ({"query": "x", "filters": {"languages": ["klingon"]}}, "unknown language 'klingon'"),
        ({"query": "x", "filters": {"excludeTests": "yes"}}, "excludeTests must be true or false"),
        ({"query": "x", "filters": {"glob": 7}}, "filters.glob must be a string, got 7"),
        ({"query": "x", "explain": 1}, "explain must be true or false, got 1"),
        ({"query": "x", "workspaceFolder": "file:///nowhere"}, "not an open workspace folder"),
    ],
)
async def test_malformed_search_params(client: Client, params: Any, message: str):
    with pytest.raises(JsonRpcInvalidParams) as caught:
        await request(client, "codequest/search", params)
    assert message in caught.value.message
    assert caught.value.code == -32602
    # The server keeps serving.
    reply = await search(client, {"query": "HashPassword", "limit": 1})
    assert reply["results"][0]["name"] == "HashPassword"


async def test_malformed_standard_request_gets_invalid_params(client: Client):
    with pytest.raises(JsonRpcInvalidParams) as caught:
        await request(client, types.WORKSPACE_SYMBOL, {"no_query": True})
    expected = "invalid params for workspace/symbol: required field missing @ params.query"
    assert caught.value.message == expected
    # The server keeps serving.
    symbols = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="parse"))
    assert symbols is not None and symbols[0].name == "parse"


async def test_malformed_command_arguments(client: Client):
    with pytest.raises(JsonRpcInvalidParams, match="folder URI string, got 42"):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="codequest.reindex", arguments=[42])
        )
    with pytest.raises(JsonRpcInvalidParams, match="not an open workspace folder"):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="codequest.reindex", arguments=["file:///nope"])
        )
    with pytest.raises(JsonRpcInvalidParams, match="codequest.nope"):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="codequest.nope")
        )
    folders = (await status(client))["folders"]
    assert [f["state"] for f in folders] == ["ready", "ready"]


async def test_unknown_method(client: Client):
    with pytest.raises(JsonRpcMethodNotFound):
        await request(client, "codequest/frobnicate", {"query": "x"})
    reply = await search(client, {"query": "parse"})
    assert {"parse", "parse_duration"} <= {r["name"] for r in reply["results"]}
    assert reply["index"]["state"] == "ready"
