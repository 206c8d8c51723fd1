"""The server's pure parts, without a server: params, ranges, kinds, settings, statuses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from codequest.config import Config
from codequest.lsp.config import (
    INDEX_SETTINGS,
    QUERY_ENCODER_SETTINGS,
    changed_settings,
    folder_config,
    parse_settings,
)
from codequest.lsp.indexing import IndexStatus, combine
from codequest.lsp.progress import Throttle, percent
from codequest.lsp.ranges import FileLines, line_length, position_encoding, result_range
from codequest.lsp.search import parse_params
from codequest.lsp.symbols import symbol_kind
from codequest.types import SearchFilters

UTF8, UTF16, UTF32 = (
    types.PositionEncodingKind.Utf8,
    types.PositionEncodingKind.Utf16,
    types.PositionEncodingKind.Utf32,
)


def test_parse_params_accepts_a_full_request():
    request = parse_params(
        {
            "query": "parse config",
            "limit": 7,
            "filters": {"glob": "src/**", "languages": ["python", "go"], "excludeTests": True},
            "workspaceFolder": "file:///w",
            "explain": True,
            "futureKey": 1,  # unknown keys are ignored, for newer clients
        }
    )
    assert (request.query, request.limit, request.folder, request.explain) == (
        "parse config",
        7,
        "file:///w",
        True,
    )
    assert request.filters == SearchFilters("src/**", ("python", "go"), True)
    assert parse_params({"query": "x", "filters": None, "explain": None}).filters == SearchFilters()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query": 42}, "query must be a string, got 42"),
        ({}, "query must be a string, got null"),
        ("query", 'params must be an object, got "query"'),
        ({"query": "x", "limit": True}, "limit must be an integer from 1 to 1000, got true"),
        ({"query": "x", "limit": 1001}, "got 1001"),
        ({"query": "x", "filters": {"languages": [1]}}, "filters.languages must be a list"),
        ({"query": "x", "workspaceFolder": 3}, "workspaceFolder must be a URI string, got 3"),
    ],
)
def test_parse_params_says_what_is_wrong(params: object, message: str):
    with pytest.raises(JsonRpcInvalidParams) as caught:
        parse_params(params)
    assert message in caught.value.message


def test_line_length_in_each_position_encoding(tmp_path: Path):
    path = tmp_path / "a.py"
    path.write_bytes("\ufeffx = 1\r\ns = 'é🎉'\n".encode())
    assert line_length(path, 0, UTF16) == 5  # BOM and \r not counted
    line = "s = 'é🎉'"
    assert line_length(path, 1, UTF16) == len(line) + 1  # the emoji is a surrogate pair
    assert line_length(path, 1, UTF8) == len(line.encode())
    assert line_length(path, 1, UTF32) == len(line)
    assert line_length(path, 9, UTF16) == 0  # the file shrank since it was indexed
    assert line_length(tmp_path / "gone.py", 0, UTF16) is None


def test_result_range_uses_the_recorded_end_line_lengths_without_reading(tmp_path: Path):
    gone = tmp_path / "gone.py"  # never read: the lengths come from the index
    for encoding, expected in (("utf-8", 9), ("utf-16", 6), ("utf-32", 5), (UTF16, 6)):
        rng = result_range(gone, 3, 7, str(getattr(encoding, "value", encoding)), (9, 6, 5))
        assert rng["start"] == {"line": 2, "character": 0}
        assert rng["end"] == {"line": 6, "character": expected}
    # Without them (a format-1 index) the file is read; a missing one ends at the next line.
    assert result_range(gone, 3, 7, "utf-16")["end"] == {"line": 7, "character": 0}


@pytest.mark.parametrize(
    ("negotiated", "wire"),
    [(UTF8, "utf-8"), (UTF16, "utf-16"), (UTF32, "utf-32"), ("utf-8", "utf-8"), (None, "utf-16")],
)
def test_position_encoding_is_the_wire_value(negotiated: object, wire: str):
    class Workspace:
        position_encoding = negotiated

    class Server:
        workspace = Workspace()

    assert position_encoding(Server()) == wire  # type: ignore[arg-type]


def test_line_length_of_utf16_files(tmp_path: Path):
    path = tmp_path / "w.ts"
    path.write_bytes("let a = 1;\nlet bé = 2;\n".encode("utf-16"))
    assert line_length(path, 1, UTF16) == len("let bé = 2;")


def test_file_lines_rereads_a_file_that_changed(tmp_path: Path):
    path = tmp_path / "a.py"
    path.write_text("one\ntwo\n")
    cache = FileLines(recheck=0.0)
    assert cache.lines(path) == [b"one", b"two", b""]
    path.write_text("a much longer first line\n")  # another size: the cached lines are stale
    assert cache.lines(path) == [b"a much longer first line", b""]
    # The same size and a new mtime counts as changed too.
    path.write_text("A much longer first line\n")
    os.utime(path, ns=(1, 1))
    assert cache.lines(path)[0] == b"A much longer first line"
    path.unlink()
    assert cache.lines(path) is None
    # Within ``recheck`` seconds of a look, the cached lines are used without a stat().
    lazy = FileLines(recheck=3600.0)
    path.write_text("first\n")
    assert lazy.lines(path) == [b"first", b""]
    path.write_text("second version\n")
    assert lazy.lines(path) == [b"first", b""]


def test_file_lines_stays_within_its_byte_budget(tmp_path: Path):
    cache = FileLines(max_bytes=100, max_file_bytes=60)
    paths = []
    for i in range(5):
        path = tmp_path / f"f{i}.py"
        path.write_text(f"x = {i}\n" * 6)  # 36 bytes each
        paths.append(path)
        assert cache.lines(path) is not None
    assert cache._bytes <= 100 and len(cache._files) == 2  # the two most recent
    assert list(cache._files) == paths[-2:]
    big = tmp_path / "big.py"
    big.write_text("y = 1\n" * 20)  # over max_file_bytes: not kept, streamed by line_length
    assert cache.lines(big) is None
    assert line_length(big, 3, UTF16) == len("y = 1")


def test_result_range_is_zero_based_to_the_end_of_the_last_line(tmp_path: Path):
    path = tmp_path / "a.go"
    path.write_text("package a\n\nfunc F() {\n\treturn\n}\n")
    assert result_range(path, 3, 5, UTF16) == {
        "start": {"line": 2, "character": 0},
        "end": {"line": 4, "character": 1},
    }
    # Unreadable now: the end falls back to the start of the next line.
    assert result_range(tmp_path / "gone.go", 3, 5, UTF16)["end"] == {"line": 5, "character": 0}


def test_symbol_kinds_and_fallback_for_old_clients():
    assert symbol_kind("struct") == types.SymbolKind.Struct
    assert symbol_kind("trait") == types.SymbolKind.Interface
    assert symbol_kind("method") == types.SymbolKind.Method
    old_client = set(range(1, 19))
    assert symbol_kind("struct", old_client) == types.SymbolKind.Class
    assert symbol_kind("type", old_client) == types.SymbolKind.Class
    assert symbol_kind("function", old_client) == types.SymbolKind.Function


def test_parse_settings_section_flat_and_problems():
    config, problems = parse_settings({"codequest": {"maxResults": 5, "model": "hashing"}})
    assert (config.max_results, config.model, problems) == (5, "hashing", [])
    config, problems = parse_settings({"maxResults": "many"})
    assert config.max_results == Config().max_results
    assert problems == ["maxResults must be an integer, got 'many'; using default 20"]
    config, problems = parse_settings(["not", "an", "object"])
    assert config == Config() and problems == [
        "settings must be an object, got a list; using defaults"
    ]
    base = Config(model="hashing", max_results=3)
    assert parse_settings(None, base=base) == (base, [])
    assert parse_settings({"exclude": ["x/"]}, base=base)[0].model == "hashing"


def test_which_changes_need_a_reindex_or_a_new_query_encoder():
    base = Config(model="hashing")
    changed = changed_settings(base, Config(model="hashing", exclude=("build2/",)))
    assert changed == {"exclude"} and changed & INDEX_SETTINGS
    changed = changed_settings(base, Config(model="other"))
    assert changed & INDEX_SETTINGS and changed & QUERY_ENCODER_SETTINGS
    changed = changed_settings(base, Config(model="hashing", max_results=3, hybrid=False))
    assert changed == {"max_results", "hybrid"}
    assert not changed & INDEX_SETTINGS and not changed & QUERY_ENCODER_SETTINGS
    assert (
        changed_settings(base, Config(model="hashing", query_encoder="teacher-int8"))
        == {"query_encoder"}
        <= QUERY_ENCODER_SETTINGS
    )


def test_folder_config_keeps_absolute_cache_dirs_apart(tmp_path: Path):
    config = Config(cache_dir=str(tmp_path / "indexes"))
    a = folder_config(config, Path("/work/my project"))
    b = folder_config(config, Path("/other/my project"))
    assert a.cache_dir != b.cache_dir
    assert Path(a.cache_dir).parent == tmp_path / "indexes"
    assert Path(a.cache_dir).name.startswith("my_project-")
    assert folder_config(a, Path("/work/my project")).cache_dir.startswith(a.cache_dir)
    relative = Config(cache_dir=".cq")
    assert folder_config(relative, Path("/work/p")) is relative
    assert folder_config(Config(), Path("/work/p")) == Config()


def test_combined_status_of_several_folders():
    ready = IndexStatus("ready", 10, 10)
    indexing = IndexStatus("indexing", 3, 12)
    assert combine([]) == IndexStatus()
    assert combine([ready]) is ready
    both = combine([ready, indexing])
    assert both.to_json() == {
        "state": "indexing",
        "indexedFiles": 13,
        "totalFiles": 22,
        "percent": 59,
    }
    assert combine([ready, IndexStatus("error", 0, 0, "boom")]).to_json()["message"] == "boom"
    assert IndexStatus("ready", 0, 0).percent == 100 and IndexStatus("indexing", 0, 0).percent == 0


def test_throttle_and_percent():
    throttle = Throttle(60.0)
    assert throttle.ready() and not throttle.ready() and throttle.ready(force=True)
    assert (percent(1, 3), percent(3, 3), percent(0, 0)) == (33, 100, 100)


def test_workspace_folders_then_root_uri_then_root_path():
    from codequest.lsp.lifecycle import _folders_from

    caps = types.ClientCapabilities()
    folders = [types.WorkspaceFolder(uri="file:///a", name="a")]
    both = types.InitializeParams(
        capabilities=caps, workspace_folders=folders, root_uri="file:///r"
    )
    assert _folders_from(both) == [("file:///a", "a")]
    assert _folders_from(types.InitializeParams(capabilities=caps, root_uri="file:///r")) == [
        ("file:///r", "")
    ]
    by_path = types.InitializeParams(capabilities=caps, root_path="/my proj")
    assert _folders_from(by_path) == [("file:///my%20proj", "")]
    assert _folders_from(types.InitializeParams(capabilities=caps)) == []


def test_warm_search_builds_the_snapshot_before_the_first_query(make_project, make_workspace):
    import gc

    from codequest.lsp.indexing import warm_search

    ws = make_workspace(make_project())
    ws.index()
    searcher = ws.searcher()
    assert searcher._snapshot is None  # nothing has searched yet
    try:
        warm_search(ws)
        snap = searcher._snapshot
        assert snap is not None and snap.version == ws.store.version
        assert gc.get_freeze_count() > 0
        assert ws.search("hash password")  # and the query uses that very snapshot
        assert searcher._snapshot is snap
    finally:
        gc.unfreeze()  # leave the test process's collector as it was


def test_plain_replies_are_compact_utf8_json_whatever_the_encoder():
    import json

    from codequest.lsp import protocol

    result = {"uri": "file:///tmp/caf%C3%A9", "name": "naïve"}
    message = {"jsonrpc": "2.0", "id": 7, "result": result}
    body = protocol.plain_json_bytes(message)
    assert json.loads(body.decode("utf-8")) == message
    assert "naïve".encode() in body  # UTF-8, not \u escapes: the length is counted in bytes
    # What orjson refuses (an integer past 64 bits) still goes out, through json.dumps.
    huge = {"jsonrpc": "2.0", "id": 1, "result": {"n": 2**70}}
    assert json.loads(protocol.plain_json_bytes(huge)) == huge


def test_plain_search_replies_are_framed_with_their_byte_length():
    import json

    from codequest.lsp.protocol import PlainResult
    from codequest.lsp.server import create_server

    class Collect:
        def __init__(self) -> None:
            self.data = b""

        def write(self, data: bytes) -> None:
            self.data += data

    server = create_server()
    writer = Collect()
    server.protocol.set_writer(writer)
    result = PlainResult(results=[{"name": "größe", "preview": "def größe(): ..."}], index={})
    server.protocol._send_response(3, result=result)
    header, _, body = writer.data.partition(b"\r\n\r\n")
    lengths = [line for line in header.split(b"\r\n") if line.startswith(b"Content-Length:")]
    assert lengths == [b"Content-Length: %d" % len(body)]
    assert len(body) > len(body.decode("utf-8"))  # non-ASCII: bytes and characters differ
    assert json.loads(body) == {"jsonrpc": "2.0", "id": 3, "result": result}


@pytest.mark.parametrize(
    "relpath",
    ["a.py", "pkg/mod.py", "with space/ü ñ.py", "odd/%41#?;@&=+$,.py", "日本/語.rs", "a/b/c/d.go"],
)
@pytest.mark.parametrize("root", ["/tmp/work space", "/", "/home/ünï/code"])
def test_file_uris_are_what_pathlib_writes(root: str, relpath: str):
    from codequest.lsp.indexing import file_path, file_uri

    expected = Path(root).joinpath(*relpath.split("/")).as_uri()
    assert file_uri(Path(root), relpath) == expected
    assert file_path(Path(root), relpath).as_uri() == expected


def test_result_range_reads_the_file_only_without_recorded_lengths(tmp_path: Path):
    from codequest.lsp.ranges import needs_file

    assert not needs_file("utf-16", (3, 3, 3))
    assert needs_file("utf-16", None)
    assert needs_file("ucs-2", (3, 3, 3))  # not an LSP encoding: measured from the file
    assert result_range(None, 1, 2, "utf-16", (5, 4, 4))["end"] == {"line": 1, "character": 4}
    with pytest.raises(ValueError, match="needs the file"):
        result_range(None, 1, 2, "utf-16", None)
