"""Prebuilt indexes: a read-only base at a git commit plus a local overlay of what changed.

Each test builds a small git repository in ``tmp_path``, builds a prebuilt index from it
with the hashing encoder, and opens a fresh clone (or the repository itself) on top of it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import msgpack
import numpy as np
import pytest

from codequest.cli import main as cli_main
from codequest.config import Config
from codequest.encoders import HashingEncoder
from codequest.index.layered import OVERLAY_ID_OFFSET, LayeredStore
from codequest.index.persist import DIGEST_SIZE, META_FILE, META_MAGIC, encode_meta
from codequest.prebuilt import LayeredWorkspace, build_prebuilt, open_workspace
from codequest.search import RankingOptions, Searcher
from codequest.types import SearchFilters, SearchResult
from codequest.workspace import Workspace
from helpers import SAMPLE_PROJECT, write_tree

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

GIT_ID = ["-c", "user.name=CodeQuest Tests", "-c", "user.email=tests@codequest.invalid"]


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *GIT_ID, "-C", str(root), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    write_tree(root, SAMPLE_PROJECT)
    (root / ".gitignore").write_text(".codequest/\n")
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "initial")
    return root


@pytest.fixture
def prebuilt(repo: Path, tmp_path: Path) -> Path:
    out = tmp_path / "prebuilt"
    build_prebuilt(repo, out, Config(model="hashing"))
    return out


@pytest.fixture
def clone(repo: Path, tmp_path: Path) -> Path:
    target = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(target)], check=True)
    return target


def layered(root: Path, index: Path, **overrides: object) -> Workspace:
    return open_workspace(root, Config(model="hashing", index_path=str(index), **overrides))


def everything(ws: Workspace, query: str) -> list[SearchResult]:
    return ws.search(query, limit=200)


def assert_current(root: Path, results: list[SearchResult]) -> None:
    """Every result names an existing file, and its preview is on a line of its range."""
    for r in results:
        path = root / r.path
        assert path.is_file(), f"result from deleted file {r.path}"
        lines = path.read_text().splitlines()
        assert 1 <= r.start_line <= r.end_line <= len(lines), (r.path, r.start_line, r.end_line)
        span = [line.strip() for line in lines[r.start_line - 1 : r.end_line]]
        assert r.preview in span, f"stale range {r.path}:{r.start_line}-{r.end_line}"


# -- building --------------------------------------------------------------------------
def test_build_records_commit_model_and_relative_paths(repo: Path, prebuilt: Path) -> None:
    raw = (prebuilt / META_FILE).read_bytes()
    payload = msgpack.unpackb(raw[len(META_MAGIC) + DIGEST_SIZE :], strict_map_key=False)
    info = payload["extra"]["prebuilt"]
    assert info["commit"] == git(repo, "rev-parse", "HEAD")
    assert info["root_name"] == "repo" and info["dirty"] is False and info["format"] == 1
    assert payload["model"].startswith("hashing-")
    paths = {row[0] for row in payload["files"]}
    assert "app/io_utils.py" in paths and not any(p.startswith("/") for p in paths)


def test_build_refuses_a_folder_without_git(tmp_path: Path) -> None:
    from codequest.errors import PrebuiltError

    write_tree(tmp_path / "plain", {"a.py": "def f():\n    return 1\n"})
    with pytest.raises(PrebuiltError, match="not a git checkout"):
        build_prebuilt(tmp_path / "plain", tmp_path / "out", Config(model="hashing"))


# -- using it on a fresh clone ---------------------------------------------------------
def test_fresh_clone_answers_from_the_base_without_embedding(clone: Path, prebuilt: Path) -> None:
    ws = layered(clone, prebuilt)
    assert isinstance(ws, LayeredWorkspace) and ws.uses_prebuilt, ws.fallback_reason
    assert isinstance(ws.store, LayeredStore)
    assert ws.store.base.read_only
    report = ws.index()
    assert report.embedded == 0 and report.files == 6
    top = ws.search("parseEmailAddress", limit=3)
    assert top and top[0].path == "web/email.js"
    status = ws.status()
    assert status["prebuilt"]["used"] and status["prebuilt"]["overlayFiles"] == 0
    assert ws.ready_to_search  # the layered store counts as loaded (the LSP fast path)
    # Nothing was written next to the prebuilt index.
    assert sorted(p.name for p in prebuilt.iterdir() if p.name != "lock")[0] == META_FILE


def test_overlay_edits_deletions_and_new_files(clone: Path, prebuilt: Path) -> None:
    ws = layered(clone, prebuilt)
    ws.index()
    # Edit: the JS function is renamed and moved down two lines.
    (clone / "web/email.js").write_text(
        "// moved\n\nfunction splitMailboxZebra(text) {\n  return text.split('@');\n}\n"
    )
    (clone / "cmd/hash.go").unlink()  # deletion
    write_tree(clone, {"lib/quokka.py": "def quokka_counter(items):\n    return len(items)\n"})
    report = ws.index()
    assert report.embedded > 0
    assert ws.store.masked == {"web/email.js", "cmd/hash.go"}

    hits = ws.search("splitMailboxZebra", limit=3)
    # The small file is one chunk now; the name comes from the definition on line 3.
    assert hits[0].path == "web/email.js" and hits[0].symbol == "splitMailboxZebra"
    record = next(r for r in ws.store.chunks.values() if r.path == "web/email.js")
    assert [(d.symbol, d.line) for d in record.defined_names] == [("splitMailboxZebra", 3)]
    assert ws.search("quokka_counter", limit=3)[0].path == "lib/quokka.py"
    for query in ("parseEmailAddress", "ComputeSha256 sha256 hex", "email domain match", "x"):
        results = everything(ws, query)
        assert all(r.path != "cmd/hash.go" for r in results)
        assert all("parseEmailAddress" not in r.preview for r in results)
        assert_current(clone, results)
    # Unchanged files still come from the base.
    assert ws.search("read_json_file", limit=3)[0].path == "app/io_utils.py"
    assert ws.status()["prebuilt"]["overlayFiles"] == 2


def test_the_layered_store_answers_every_vector_read_search_makes(
    clone: Path, prebuilt: Path
) -> None:
    """Search reads vectors three ways: nearest neighbours, the exact vectors of lexical
    and name candidates past them, and a scan of a filtered subset. The layered store
    answers each from the base or the overlay, and never with a masked base chunk."""
    ws = layered(clone, prebuilt)
    (clone / "web/email.js").write_text("function splitMailboxZebra(text) {\n  return 1;\n}\n")
    write_tree(clone, {"lib/quokka.py": "def quokka_counter(items):\n    return len(items)\n"})
    ws.index()
    store = ws.store
    assert isinstance(store, LayeredStore)
    base_id = store.base.files["app/io_utils.py"].chunk_ids[0]
    masked_id = store.base.files["web/email.js"].chunk_ids[0]
    (overlay_id,) = [cid for cid, r in store.chunks.items() if r.path == "lib/quokka.py"]
    ids = np.array([overlay_id, masked_id, base_id, 10**9], np.int64)
    found, rows = store.vectors_of(ids)
    assert found.tolist() == [True, False, True, False] and rows.shape == (2, store.dim)
    own = store.overlay.vectors_of(np.array([overlay_id - OVERLAY_ID_OFFSET]))[1][0]
    assert np.array_equal(rows[0], own)
    assert np.array_equal(rows[1], store.base.vectors_of(np.array([base_id]))[1][0])

    # Two dense neighbours, so lexical and name candidates need their own vectors.
    searcher = Searcher(store, HashingEncoder())
    narrow = RankingOptions(dense_candidates=1)
    top = searcher.search("quokka_counter items", limit=1, options=narrow)
    assert [r.path for r in top] == ["lib/quokka.py"]
    wide = searcher.search("read json file path", limit=3, options=narrow)
    assert wide and wide[0].path == "app/io_utils.py"
    # A glob that leaves too few fused results is filled by an exact scan of its subset.
    filtered = ws.search("anything at all", limit=5, filters=SearchFilters(glob="lib/**"))
    assert [r.path for r in filtered] == ["lib/quokka.py"]
    assert_current(clone, everything(ws, "email domain"))


def test_committed_changes_after_the_prebuilt_commit(repo: Path, prebuilt: Path) -> None:
    (repo / "src/http.rs").write_text("pub fn fetch_pangolin() -> u8 {\n    7\n}\n")
    commit_all(repo, "change after the prebuilt")
    ws = layered(repo, prebuilt)
    assert ws.uses_prebuilt, ws.fallback_reason
    ws.index()
    assert ws.search("fetch_pangolin", limit=2)[0].path == "src/http.rs"
    assert_current(repo, everything(ws, "http get with timeout duration"))


def test_reverted_file_leaves_the_overlay_and_the_base_answers_again(
    clone: Path, prebuilt: Path
) -> None:
    ws = layered(clone, prebuilt)
    original = (clone / "web/email.js").read_text()
    (clone / "web/email.js").write_text("function walrusTusk() {}\n")
    ws.index()
    assert ws.search("walrusTusk", limit=1)[0].path == "web/email.js"
    (clone / "web/email.js").write_text(original)
    ws.index()
    assert ws.store.masked == frozenset()
    assert ws.status()["prebuilt"]["overlayFiles"] == 0
    hits = everything(ws, "parseEmailAddress")
    assert [r.path for r in hits].count("web/email.js") == len(
        {(r.start_line, r.end_line) for r in hits if r.path == "web/email.js"}
    )
    assert hits[0].path == "web/email.js"
    assert all("walrusTusk" not in r.preview for r in everything(ws, "walrusTusk"))


def test_overlay_survives_a_restart(clone: Path, prebuilt: Path) -> None:
    ws = layered(clone, prebuilt)
    (clone / "cmd/hash.go").unlink()
    write_tree(clone, {"lib/otter.py": "def otter_paddle():\n    pass\n"})
    ws.index()
    again = layered(clone, prebuilt)
    assert again.has_index()
    assert again.search("otter_paddle", limit=1)[0].path == "lib/otter.py"
    assert all(r.path != "cmd/hash.go" for r in everything(again, "ComputeSha256"))
    assert again.index().embedded == 0


def test_filtered_search_reads_vectors_from_both_layers(clone: Path, prebuilt: Path) -> None:
    ws = layered(clone, prebuilt)
    write_tree(clone, {"lib/heron.py": "def heron_wade():\n    pass\n"})
    ws.index()
    py = ws.search("function", limit=50, filters=_filters(languages=("python",)))
    assert {r.path for r in py} >= {"lib/heron.py", "app/io_utils.py"}
    assert all(r.language == "python" for r in py)


def _filters(**kwargs: object) -> object:
    from codequest.types import SearchFilters

    return SearchFilters(**kwargs)  # type: ignore[arg-type]


def test_editor_deletion_hides_a_base_file_at_once(clone: Path, prebuilt: Path) -> None:
    ws = layered(clone, prebuilt)
    ws.index()
    assert ws.store.remove_file("src/Slugify.java")
    assert all(r.path != "src/Slugify.java" for r in everything(ws, "slugifyTitle"))


# -- refusing a base that does not fit -------------------------------------------------
def _rewrite_meta(index: Path, change: Callable[[dict], None]) -> None:
    raw = (index / META_FILE).read_bytes()
    payload = msgpack.unpackb(raw[len(META_MAGIC) + DIGEST_SIZE :], strict_map_key=False)
    change(payload)
    body = msgpack.packb(payload, use_bin_type=True)
    (index / META_FILE).write_bytes(encode_meta(body))


def _assert_falls_back(ws: Workspace, *needles: str) -> None:
    assert isinstance(ws, LayeredWorkspace) and not ws.uses_prebuilt
    reason = ws.fallback_reason
    assert "\n" not in reason and reason.endswith("indexing locally")
    for needle in needles:
        assert needle in reason, reason
    report = ws.index()
    assert report.embedded > 0 and report.rebuild_reason == reason
    assert ws.search("parseEmailAddress", limit=1)[0].path == "web/email.js"
    assert ws.status()["prebuilt"] == {"used": False, "reason": reason}


def test_another_model_falls_back(clone: Path, prebuilt: Path) -> None:
    _rewrite_meta(prebuilt, lambda p: p.update(model="all-MiniLM-L6-v2@abc"))
    _assert_falls_back(layered(clone, prebuilt), "all-MiniLM-L6-v2@abc", "hashing-")


def test_another_store_format_version_falls_back(clone: Path, prebuilt: Path) -> None:
    _rewrite_meta(prebuilt, lambda p: p.update(format=99))
    _assert_falls_back(layered(clone, prebuilt), "format version 99")


def test_another_prebuilt_format_version_falls_back(clone: Path, prebuilt: Path) -> None:
    _rewrite_meta(prebuilt, lambda p: p["extra"]["prebuilt"].update(format=7))
    _assert_falls_back(layered(clone, prebuilt), "prebuilt format version 7")


def test_a_plain_index_is_not_a_prebuilt_one(clone: Path, prebuilt: Path) -> None:
    _rewrite_meta(prebuilt, lambda p: p["extra"].pop("prebuilt"))
    _assert_falls_back(layered(clone, prebuilt), "not a prebuilt index")


def test_commit_that_is_not_an_ancestor_falls_back(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "-b", "side")
    write_tree(repo, {"side.py": "def side_branch_only():\n    pass\n"})
    side = commit_all(repo, "side work")
    out = tmp_path / "side-prebuilt"
    build_prebuilt(repo, out, Config(model="hashing"))
    git(repo, "checkout", "-q", "main")
    _assert_falls_back(layered(repo, out), f"commit {side[:12]} is not an ancestor of HEAD")


def test_unknown_commit_falls_back(repo: Path, tmp_path: Path, clone: Path) -> None:
    write_tree(repo, {"later.py": "def later():\n    pass\n"})
    commit_all(repo, "a commit the clone never fetched")
    out = tmp_path / "newer-prebuilt"
    build_prebuilt(repo, out, Config(model="hashing"))
    _assert_falls_back(layered(clone, out), "is unknown in this checkout")


def test_missing_prebuilt_folder_falls_back(clone: Path, tmp_path: Path) -> None:
    _assert_falls_back(layered(clone, tmp_path / "nowhere"), "no prebuilt index at")


# -- command line ----------------------------------------------------------------------
def test_cli_build_search_and_fallback_note(
    repo: Path, clone: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli-prebuilt"
    assert cli_main(["index", str(repo), "--output", str(out), "--model", "hashing"]) == 0
    assert "prebuilt index at" in capsys.readouterr().out
    write_tree(clone, {"lib/ibis.py": "def ibis_probe():\n    pass\n"})
    argv = ["search", "ibis_probe", "--path", str(clone), "--model", "hashing", "-k", "1"]
    assert cli_main([*argv, "--index", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("lib/ibis.py:1")
    assert "not used" not in captured.err

    _rewrite_meta(out, lambda p: p.update(format=99))
    assert cli_main([*argv, "--index", str(out)]) == 0
    captured = capsys.readouterr()
    notes = [line for line in captured.err.splitlines() if "not used" in line]
    assert len(notes) == 1 and "format version 99" in notes[0]
    assert captured.out.startswith("lib/ibis.py:1")
