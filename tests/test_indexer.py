"""Incremental indexing through the Workspace facade: counts, reuse, rebuilds, limits."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest

from codequest import workspace as workspace_mod
from codequest.config import Config
from codequest.encoders import DOCUMENT_RECIPE, HashingEncoder, document_text
from codequest.index import persist
from codequest.index.indexer import index_workspace
from codequest.index.persist import DIGEST_SIZE, META_FILE, META_MAGIC
from codequest.index.store import Store
from codequest.types import Chunk
from codequest.workspace import Workspace

MakeWs = Callable[..., Workspace]


def read_meta(directory: Path) -> dict[str, Any]:
    raw = (directory / META_FILE).read_bytes()
    payload: dict[str, Any] = msgpack.unpackb(
        raw[len(META_MAGIC) + DIGEST_SIZE :], raw=False, strict_map_key=False
    )
    return payload


def write_meta(directory: Path, payload: dict[str, Any]) -> None:
    body = msgpack.packb(payload, use_bin_type=True)
    (directory / META_FILE).write_bytes(persist.encode_meta(body))


def no_encoder() -> Any:
    raise AssertionError("the document encoder must not be loaded")


def forbid_model_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workspace_mod, "load_document_encoder", lambda config: no_encoder())


def symbols(ws: Workspace, query: str, **kwargs: Any) -> list[tuple[str, str]]:
    return [(r.path, r.symbol) for r in ws.search(query, **kwargs)]


def test_first_index_counts(
    make_project: Callable[..., Path], make_workspace: MakeWs, sample_symbols: dict[str, str]
):
    root = make_project()
    (root / "app" / "blob.py").write_bytes(b"\x00\x01binary\x00" * 10)
    (root / "app" / "huge.py").write_text("x = 1\n" * 400)
    ws = make_workspace(root, max_file_bytes=1000)
    report = ws.index()
    assert report.files == 6  # 5 languages + the test file
    assert report.chunks == len(ws.store.chunks) == len(ws.store.vectors)
    assert report.embedded == report.chunks
    assert report.reused == 0
    assert report.removed_files == 0
    assert report.skipped == {"unsupported": 1, "binary": 1, "too_large": 1}
    assert not report.rebuilt and not report.cancelled and not report.limit_hit
    records = ws.store.chunks.values()
    defined = {d.symbol.rsplit(".", 1)[-1] for r in records for d in r.defined_names}
    assert set(sample_symbols) <= defined
    assert ws.has_index()
    assert Store.peek_generation(ws.cache_dir) == ws.store.generation == 1


def test_warm_reindex_embeds_nothing_and_never_loads_the_model(
    project: Path, make_workspace: MakeWs, monkeypatch: pytest.MonkeyPatch
):
    first = make_workspace(project).index()
    forbid_model_loading(monkeypatch)
    ws = make_workspace(project)  # a new process, as far as the workspace knows
    report = ws.index()
    assert (report.files, report.chunks) == (first.files, first.chunks)
    assert report.embedded == 0
    assert "model_load" not in report.timings
    assert ws.store.generation == 1  # nothing changed: not even re-saved
    # Touching a file (same bytes, new mtime) still needs no model.
    path = project / "app" / "io_utils.py"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    report = make_workspace(project).index()
    assert report.embedded == 0 and report.reused == 0


def test_warm_index_workspace_never_calls_the_factory(
    project: Path, tmp_path: Path, encoder: HashingEncoder
):
    store = Store(tmp_path / "idx", encoder.identity, encoder.dim)
    index_workspace(project, Config(), store, lambda: encoder)
    report = index_workspace(project, Config(), store, no_encoder)
    assert report.embedded == 0


# Functions long enough that each is a chunk of its own.
_DOC = "Work on the value the way the name says, then return the result. " * 6
LONG_FUNCTIONS = "".join(
    f'def step_{i}(value):\n    """{_DOC}"""\n    return value + {i}\n\n\n' for i in range(3)
)


def test_editing_one_function_reembeds_only_that_chunk(
    make_project: Callable[..., Path], make_workspace: MakeWs
):
    root = make_project({"app/steps.py": LONG_FUNCTIONS})
    ws = make_workspace(root)
    first = ws.index()
    assert first.chunks == 3
    path = root / "app" / "steps.py"
    path.write_text(path.read_text().replace("value + 1", "value + 100"))
    report = ws.index()
    assert report.embedded == 1
    assert report.reused == len(ws.store.files["app/steps.py"].chunk_ids) - 1 == 2
    assert report.chunks == first.chunks
    assert report.removed_files == 0


def test_deleted_file_disappears_from_results(project: Path, make_workspace: MakeWs):
    ws = make_workspace(project)
    ws.index()
    assert ("web/email.js", "parseEmailAddress") in symbols(ws, "parseEmailAddress")
    (project / "web" / "email.js").unlink()
    report = ws.index()
    assert report.removed_files == 1
    assert "web/email.js" not in ws.store.files
    assert all(path != "web/email.js" for path, _ in symbols(ws, "parseEmailAddress"))
    # ...and from a fresh process's view of the store.
    fresh = make_workspace(project)
    assert all(path != "web/email.js" for path, _ in symbols(fresh, "parseEmailAddress"))


def test_renamed_file_reuses_its_vectors(
    project: Path, make_workspace: MakeWs, monkeypatch: pytest.MonkeyPatch
):
    make_workspace(project).index()
    (project / "app" / "io_utils.py").rename(project / "app" / "json_io.py")
    forbid_model_loading(monkeypatch)
    ws = make_workspace(project)
    report = ws.index()
    assert report.embedded == 0
    assert report.reused == len(ws.store.files["app/json_io.py"].chunk_ids) > 0
    assert report.removed_files == 1
    assert symbols(ws, "read_json_file", limit=1) == [("app/json_io.py", "read_json_file")]


def test_changing_the_model_rebuilds_with_a_reason(project: Path, make_workspace: MakeWs):
    make_workspace(project).index()
    other = HashingEncoder(dim=64, seed=7)
    ws = Workspace(project, Config(model="hashing"), document_encoder=other, query_encoder=other)
    assert ws.status()["problem"]
    report = ws.index()
    assert report.rebuilt
    assert "was built with model 'hashing-256-0'" in report.rebuild_reason
    assert "'hashing-64-7' is configured" in report.rebuild_reason
    assert report.embedded == report.chunks
    assert Store.load(ws.cache_dir).model == "hashing-64-7"
    back = make_workspace(project).index()  # and back to the first model: rebuilds again
    assert back.rebuilt and "'hashing-256-0' is configured" in back.rebuild_reason


def test_document_text_puts_path_and_name_in_front_of_the_code():
    method = Chunk("pkg/tar_file.py", "python", "method", "TarFile.extract", 3, 4, "body", "h")
    window = Chunk("pkg/tar_file.py", "python", "window", "", 1, 60, "body", "h")
    no_path = Chunk("", "python", "function", "startsWith", 1, 2, "body", "h")
    assert document_text(method) == "pkg/tar_file.py TarFile.extract\nbody"
    assert document_text(window) == "pkg/tar_file.py\nbody"
    assert document_text(no_path) == "startsWith\nbody"


def test_indexer_embeds_the_recipe_text(make_project: Callable[..., Path], make_workspace: MakeWs):
    seen: list[str] = []

    class Recording(HashingEncoder):
        def encode_documents(self, texts, *, on_batch=None):  # type: ignore[no-untyped-def]
            seen.extend(texts)
            return super().encode_documents(texts, on_batch=on_batch)

    root = make_project({"lib/wrap.py": "def fill(text):\n    return text\n"})
    enc = Recording()
    Workspace(root, Config(model="hashing"), document_encoder=enc, query_encoder=enc).index()
    assert seen == ["lib/wrap.py fill\ndef fill(text):\n    return text"]


def test_index_with_another_document_recipe_is_rebuilt_with_a_reason(
    project: Path, make_workspace: MakeWs
):
    first = make_workspace(project)
    chunks = first.index().chunks
    payload = read_meta(first.cache_dir)
    assert payload["recipe"] == DOCUMENT_RECIPE
    del payload["recipe"]  # as an index from before the field: recipe 1
    write_meta(first.cache_dir, payload)
    ws = make_workspace(project)
    report = ws.index()
    assert report.rebuilt
    reason = f"embedded with document recipe 1, this CodeQuest embeds with recipe {DOCUMENT_RECIPE}"
    assert reason in report.rebuild_reason
    assert report.embedded == report.chunks == chunks
    assert read_meta(ws.cache_dir)["recipe"] == DOCUMENT_RECIPE
    assert not make_workspace(project).index().rebuilt  # and then it is current


def test_corrupt_store_is_rebuilt_with_a_reason(project: Path, make_workspace: MakeWs):
    first = make_workspace(project).index()
    meta = project / ".codequest" / META_FILE
    raw = bytearray(meta.read_bytes())
    raw[-5] ^= 0x40
    meta.write_bytes(bytes(raw))
    ws = make_workspace(project)
    report = ws.index()
    assert report.rebuilt
    assert "checksum mismatch" in report.rebuild_reason
    assert "rebuilding" in report.rebuild_reason
    assert report.chunks == first.chunks and report.embedded == first.chunks
    assert Store.load(ws.cache_dir).generation >= 1
    again = ws.index()
    assert not again.rebuilt and again.embedded == 0


def test_chunk_limit_stops_with_a_message(project: Path, make_workspace: MakeWs):
    ws = make_workspace(project, max_chunks=3)
    report = ws.index()
    assert report.chunks <= 3
    assert "chunk limit of 3 reached" in report.limit_hit
    assert "maxChunks" in report.limit_hit
    assert Store.load(ws.cache_dir).chunks  # what fits is saved


def test_chunk_limit_counts_reused_chunks(
    make_project: Callable[..., Path], make_workspace: MakeWs
):
    body = (
        LONG_FUNCTIONS
        + LONG_FUNCTIONS.replace("step_", "other_")[: LONG_FUNCTIONS.find("def step_1")]
    )
    root = make_project({"copy0.py": body})
    assert make_workspace(root, max_chunks=10).index().chunks == 4
    for i in range(1, 6):
        (root / f"copy{i}.py").write_text(body)  # every chunk can reuse a stored vector
    ws = make_workspace(root, max_chunks=10)
    report = ws.index()
    assert report.embedded == 0 and report.reused == 4
    assert report.chunks == 8
    assert "chunk limit of 10 reached; 4 files were not indexed" in report.limit_hit


def test_file_limit_is_reported(project: Path, make_workspace: MakeWs):
    ws = make_workspace(project, max_files=2)
    report = ws.index()
    assert report.files == 2
    assert report.skipped.get("limit") == 1
    assert "file limit of 2 reached" in report.limit_hit
    assert "maxFiles" in report.limit_hit


def test_cancel_stops_and_leaves_a_valid_store(
    make_project: Callable[..., Path], make_workspace: MakeWs
):
    root = make_project({f"m{i:02}.py": f"def fn_{i}():\n    return {i}\n" for i in range(40)})
    ws = make_workspace(root)
    cancel = threading.Event()

    def progress(done: int, total: int, message: str) -> None:
        if done >= 5:
            cancel.set()

    report = ws.index(progress=progress, cancel=cancel)
    assert report.cancelled
    assert 5 <= report.files < 40
    loaded = Store.load(ws.cache_dir, model=ws.model_identity)
    assert len(loaded.files) == report.files
    assert len(loaded.vectors) == len(loaded.chunks)
    finished = make_workspace(root).index()
    assert not finished.cancelled and finished.files == 40
    assert finished.embedded == 40 - report.files


def test_progress_reports_reach_the_total(project: Path, make_workspace: MakeWs):
    seen: list[tuple[int, int]] = []
    make_workspace(project).index(progress=lambda d, t, m: seen.append((d, t)))
    assert seen[0] == (0, 6)
    assert seen[-1] == (6, 6)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_file_that_becomes_unreadable_is_dropped(
    project: Path, make_workspace: MakeWs, monkeypatch: pytest.MonkeyPatch
):
    ws = make_workspace(project)
    ws.index()
    path = project / "cmd" / "hash.go"
    path.write_bytes(b"\x00binary now\x00")
    report = ws.index()
    assert report.skipped.get("binary") == 1
    assert "cmd/hash.go" not in ws.store.files
    assert all(r.path != "cmd/hash.go" for r in ws.search("ComputeSha256"))


def test_two_workspaces_in_one_process_see_each_others_saves(project: Path, make_workspace: MakeWs):
    a = make_workspace(project)
    b = make_workspace(project)
    a.index()
    b.index()  # loads a's store instead of starting from nothing
    (project / "extra.py").write_text("def extra_function():\n    return 1\n")
    a_report = a.index()
    assert a_report.embedded == 1
    b_report = b.index()
    assert b_report.embedded == 0  # a's save is picked up
    assert "extra.py" in b.store.files


def test_records_keep_their_end_line_lengths_in_every_position_encoding(
    make_project: Callable[..., Path], make_workspace: MakeWs
):
    # CRLF endings (the CR is not part of the line), a non-ASCII end line (é: 2 UTF-8
    # bytes, 1 UTF-16 unit; 𝔸: 4 bytes, 2 units, 1 code point) and a plain ASCII one.
    greet = "def greet(name):\r\n    return 'héllo 𝔸' + name\r\n"
    add = "def add(a, b):\r\n    return a + b\r\n"
    root = make_project({"m.py": greet.encode("utf-8"), "n.py": add.encode("utf-8")})
    ws = make_workspace(root)
    ws.index()
    units = {r.symbol: r.end_units for r in ws.store.chunks.values()}
    end = "    return 'héllo 𝔸' + name"
    assert units["greet"] == (len(end.encode("utf-8")), len(end) + 1, len(end))
    assert units["add"] == (16, 16, 16)


# Small functions that the chunker packs into one chunk.
PACKED = """\
import os


def open_session(name):
    return os.open(name, os.O_RDONLY)


def close_session(handle):
    os.close(handle)


def rotate_session_keys(store, keys):
    return [store.rotate(key) for key in keys]
"""


def test_a_packed_chunk_names_each_definition_with_its_own_line(
    make_project: Callable[..., Path], make_workspace: MakeWs
):
    root = make_project({"app/session.py": PACKED})
    ws = make_workspace(root)
    ws.index()
    (packed,) = [r for r in ws.store.chunks.values() if r.path == "app/session.py"]
    assert [d.symbol for d in packed.defined_names] == [
        "open_session",
        "close_session",
        "rotate_session_keys",
    ]
    # The first definition's line is the chunk's preview; the others keep their own.
    assert packed.preview == "def open_session(name):"
    assert [d.preview for d in packed.defined_names] == [
        "",
        "def close_session(handle):",
        "def rotate_session_keys(store, keys):",
    ]
    for query, line, preview in (
        ("rotate_session_keys", 12, "def rotate_session_keys(store, keys):"),
        ("close_session", 8, "def close_session(handle):"),
        ("open_session", 4, "def open_session(name):"),  # below the import
    ):
        (top,) = ws.search(query, limit=1)
        assert (top.symbol, top.line, top.preview) == (query, line, preview)
    # Saved and read back, the previews are the same.
    reloaded = Store.load(ws.store.directory)
    assert reloaded.chunks[packed.id].defined_names == packed.defined_names


def test_a_format_3_row_without_previews_reads_the_chunks_preview(
    make_project: Callable[..., Path], make_workspace: MakeWs
):
    root = make_project({"app/session.py": PACKED})
    ws = make_workspace(root)
    ws.index()
    directory = ws.store.directory
    payload = read_meta(directory)
    for row in payload["chunks"]:
        row[12] = [d[:4] for d in row[12]]
    write_meta(directory, payload)
    (packed,) = Store.load(directory).chunks.values()
    assert [d.preview for d in packed.defined_names] == ["", "", ""]
    (top,) = make_workspace(root).search("close_session", limit=1)
    assert (top.symbol, top.line, top.preview) == ("close_session", 8, "def open_session(name):")
